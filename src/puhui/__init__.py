"""Puhui (普惠): a digital lending platform for inclusive finance (JR/T 0269-2023)."""

__version__ = "0.1.0"
