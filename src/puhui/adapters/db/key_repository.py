"""Signing keys in the database: the software keystore's ``KeyStorage`` (R-9.4, GB/T 39786).

Each key's public record (``KeyInfo``) is stored as JSON; the private key only as the
``FieldCipher`` token the keystore made (SM4-GCM by default). The storage opens a short
transaction of its own per call: keys are created and rotated rarely, and a revocation made by
another process must be seen at the next signature.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from puhui.adapters.crypto.keystore import StoredKey
from puhui.adapters.db import tables as t
from puhui.domain.errors import Conflict
from puhui.domain.evidence.signatures import KeyInfo, KeyPurpose


def _row(key: StoredKey) -> dict[str, object]:
    info = key.info
    return {
        "key_id": info.key_id,
        "purpose": str(info.purpose),
        "owner_ref": info.owner_ref,
        "branch": info.branch,
        "info": json.dumps(info.to_json(), sort_keys=True),
        "private_key_enc": key.private_key_token,
        "created_at": info.created_at,
    }


def _key(row: Any) -> StoredKey:
    return StoredKey(KeyInfo.from_json(json.loads(row[0])), row[1])


class DbKeyStorage:
    """``KeyStorage`` on the ``signing_keys`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, key: StoredKey) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(t.signing_keys.c.key_id).where(t.signing_keys.c.key_id == key.info.key_id)
            ).first()
            if exists is not None:
                raise Conflict(
                    f"Key {key.info.key_id} already exists", code="signature.duplicate_key"
                )
            conn.execute(sa.insert(t.signing_keys).values(**_row(key)))

    def get(self, key_id: str) -> StoredKey | None:
        c = t.signing_keys.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(c.info, c.private_key_enc).where(c.key_id == key_id)
            ).first()
        return None if row is None else _key(row)

    def list(
        self,
        *,
        purpose: KeyPurpose | None = None,
        owner_ref: str | None = None,
        branch: str | None = None,
    ) -> list[StoredKey]:
        c = t.signing_keys.c
        query = sa.select(c.info, c.private_key_enc).order_by(c.created_at, c.key_id)
        if purpose is not None:
            query = query.where(c.purpose == str(purpose))
        if owner_ref is not None:
            query = query.where(c.owner_ref == owner_ref)
        if branch is not None:
            query = query.where(c.branch == branch)
        with self.engine.connect() as conn:
            return [_key(row) for row in conn.execute(query)]

    def update(self, key: StoredKey) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(t.signing_keys)
                .where(t.signing_keys.c.key_id == key.info.key_id)
                .values(info=json.dumps(key.info.to_json(), sort_keys=True))
            )
