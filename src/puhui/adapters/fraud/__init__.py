"""Anti-fraud adapters: batch ring detection over the relationship graph (python-igraph)."""
