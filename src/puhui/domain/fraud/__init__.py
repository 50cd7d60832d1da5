"""Anti-fraud (反欺诈, R-9.6, R-M6.4.5)."""
