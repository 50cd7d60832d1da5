"""External providers behind protocols, each with a clearly labelled sandbox implementation."""
