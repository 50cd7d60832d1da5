"""Password hashing and keyed hashes."""
