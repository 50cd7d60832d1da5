"""The ``puhui`` command line (Typer)."""
