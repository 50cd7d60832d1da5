"""Use cases: one function per command, each inside a unit of work, each audited."""
