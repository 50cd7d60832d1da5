"""De-identified export for development and test (R-M4.2, R-A6).

Personal fields are replaced by deterministic pseudonyms (HMAC with a per-export salt), so
joins across the exported tables still work while nobody can read a real phone, name or ID
number. The export itself is audited and access-logged.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from puhui.domain.customers import CUSTOMER_FIELDS, Customer
from puhui.domain.identity import Permission, Principal, StaffUser
from puhui.domain.privacy import AccessLogEntry, AccessOperation, AccessResult, deidentify
from puhui.services.audit import record
from puhui.services.ports import ServiceContext


@dataclass(frozen=True)
class ExportSummary:
    directory: Path
    files: dict[str, int]


def _customer_rows(customers: Iterator[Customer], salt: bytes) -> Iterator[dict[str, Any]]:
    for c in customers:
        yield {
            "id": c.id,
            "phone": deidentify(str(c.phone), CUSTOMER_FIELDS["phone"], salt=salt),
            "name": None
            if c.name is None
            else deidentify(c.name, CUSTOMER_FIELDS["name"], salt=salt),
            "id_number": None
            if c.id_number is None
            else deidentify(str(c.id_number), CUSTOMER_FIELDS["id_number"], salt=salt),
            # keep what analysis needs, coarsened: birth year, sex, province
            "birth_year": None if c.id_number is None else c.id_number.birth_date.year,
            "sex": None if c.id_number is None else c.id_number.sex.value,
            "province": None if c.id_number is None else c.id_number.province,
            "created_on": c.created_on.isoformat() if c.created_on else None,
        }


def _user_rows(users: list[StaffUser]) -> Iterator[dict[str, Any]]:
    for u in users:
        yield {
            "id": u.id,
            "username": f"user{u.id}",
            "roles": sorted(r.value for r in u.roles),
            "post": u.post,
            "branch": u.branch,
            "active": u.active,
        }


def export_deidentified(
    ctx: ServiceContext, actor: Principal, out_dir: Path, *, salt: bytes | None = None
) -> ExportSummary:
    actor.require(Permission.DATA_EXPORT_DEIDENTIFIED)
    salt = salt or secrets.token_bytes(32)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with ctx.uow() as uow:
        for name, rows in (
            ("customers.jsonl", _customer_rows(uow.customers.iter_all(), salt)),
            ("staff_users.jsonl", _user_rows(uow.users.list())),
        ):
            n = 0
            with (out_dir / name).open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    n += 1
            counts[name] = n
        (out_dir / "MANIFEST.json").write_text(
            json.dumps(
                {
                    "deidentified": True,
                    "files": counts,
                    "method": "HMAC-SHA256 pseudonyms with a per-export salt (not stored)",
                },
                ensure_ascii=False,
                indent=2,
            ),
            encoding="utf-8",
        )
        uow.access_log.add(
            AccessLogEntry(
                subject=actor.ref,
                object="customers:*",
                fields=tuple(CUSTOMER_FIELDS),
                operation=AccessOperation.EXPORT,
                purpose="de-identified export for development",
                result=AccessResult.OK,
                occurred_at=ctx.clock(),
                request_id=None,
            )
        )
        record(
            ctx,
            uow,
            actor=actor,
            action="data.export_deidentified",
            target=str(out_dir),
            details=counts,
        )
        uow.commit()
    return ExportSummary(out_dir, counts)
