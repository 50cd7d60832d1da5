"""The sandbox time-stamp authority with one identity for the life of the database.

``SandboxTimeStampAuthority`` makes a new key and self-signed certificate each time it is built;
tokens it issued before a restart would then name a certificate nobody has any more. This
wrapper keeps the sandbox TSA's key (encrypted by the platform keyring) and certificate in
``sandbox_identities`` and loads them on first use, so every token the platform ever stamped
verifies against the one certificate an evidence bundle carries. It is still the **sandbox**:
a real deployment configures an RFC 3161 authority (``HttpTimeStampAuthority``).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from puhui.adapters.crypto.fieldcrypt import FieldCipher
from puhui.adapters.crypto.timestamp import SandboxTimeStampAuthority
from puhui.adapters.db import tables as t
from puhui.domain.audit import HashAlgorithm

NAME = "sandbox-tsa"
CONTEXT = "sandbox_identity.private_key"


class StoredSandboxTsa:
    """``TimeStampAuthority`` backed by the sandbox TSA whose identity lives in the database."""

    name = "Puhui Sandbox TSA (SIMULATED)"

    def __init__(self, engine: Engine, cipher: FieldCipher) -> None:
        self._engine = engine
        self._cipher = cipher
        self._tsa: SandboxTimeStampAuthority | None = None
        self._lock = threading.Lock()

    def _load(self) -> SandboxTimeStampAuthority:
        with self._lock:
            if self._tsa is None:
                self._tsa = self._read() or self._create()
            return self._tsa

    def _read(self) -> SandboxTimeStampAuthority | None:
        c = t.sandbox_identities.c
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(c.secret_enc, c.public).where(c.name == NAME)).first()
        if row is None:
            return None
        key_pem = self._cipher.decrypt(row[0], context=CONTEXT).encode("ascii")
        return SandboxTimeStampAuthority.from_pem(key_pem, row[1].encode("ascii"))

    def _create(self) -> SandboxTimeStampAuthority:
        tsa = SandboxTimeStampAuthority()
        values = {
            "name": NAME,
            "secret_enc": self._cipher.encrypt(
                tsa.private_key_pem.decode("ascii"), context=CONTEXT
            ),
            "public": tsa.certificate_pem.decode("ascii"),
            "created_at": datetime.now(UTC),
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(t.sandbox_identities).values(**values))
        except IntegrityError:  # another process made it first: use theirs
            stored = self._read()
            assert stored is not None
            return stored
        return tsa

    @property
    def certificate_pem(self) -> bytes:
        return self._load().certificate_pem

    def timestamp(self, digest: bytes, alg: HashAlgorithm) -> bytes:
        return self._load().timestamp(digest, alg)
