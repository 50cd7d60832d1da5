"""Encryption at rest and blind indexes for level-3+ personal fields (R-11.2, R-6.6).

See :mod:`puhui.adapters.crypto.fieldcrypt` for the token format and key specification.
"""

from puhui.adapters.crypto.fieldcrypt import FORMAT_VERSION, FieldAlgorithm, FieldCipher, Keyring

__all__ = ["FORMAT_VERSION", "FieldAlgorithm", "FieldCipher", "Keyring"]
