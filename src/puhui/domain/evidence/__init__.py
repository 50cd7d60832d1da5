"""Evidence: Merkle evidence log, signed tree heads, contracts and their signatures (R-9.4)."""
