"""Anti-fraud storage (R-9.6): lists, application attribute events, assessments, cases.

Every subject is a blind index (HMAC-SM3 under the platform keyring): a resident ID with the
same context as the customer register and the decision engine (so a list entry by ID matches
an applicant), an enterprise with the decision engine's USCC context, every other kind with
its own context ``fraud.<kind>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from puhui.adapters.crypto.fieldcrypt import FieldCipher
from puhui.adapters.db import fraud_tables as ft
from puhui.adapters.db.risk_repository import ENTERPRISE_CONTEXT
from puhui.domain.customers import CUSTOMER_ID_NUMBER
from puhui.domain.errors import NotFound
from puhui.domain.fraud.assessment import FraudAssessment
from puhui.domain.fraud.cases import CaseStatus, CaseStep, FraudCase
from puhui.domain.fraud.lists import ListEntry, ListSource, ListType, SubjectKind

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "30d": timedelta(days=30)}


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _entry(row: RowMapping) -> ListEntry:
    added = _aware(row["added_at"])
    assert added is not None
    return ListEntry(
        id=int(row["id"]),
        list_type=ListType(row["list_type"]),
        kind=SubjectKind(row["kind"]),
        subject_key=row["subject_key"],
        source=ListSource(row["source"]),
        reason=row["reason"],
        evidence=row["evidence"],
        added_by=row["added_by"],
        added_at=added,
        expires_at=_aware(row["expires_at"]),
        removed_at=_aware(row["removed_at"]),
        masked=row["masked"],
    )


def _case(row: RowMapping) -> FraudCase:
    opened = _aware(row["opened_at"])
    assert opened is not None
    return FraudCase(
        id=int(row["id"]),
        application_id=row["application_id"],
        applicant_key=row["applicant_key"],
        status=CaseStatus(row["status"]),
        reason=row["reason"],
        opened_by=row["opened_by"],
        opened_at=opened,
        history=tuple(
            CaseStep(
                None if h["from"] is None else CaseStatus(h["from"]),
                CaseStatus(h["to"]),
                h["by"],
                datetime.fromisoformat(h["at"]),
                h["note"],
            )
            for h in json.loads(row["history"])
        ),
    )


def _history(case: FraudCase) -> str:
    return json.dumps(
        [
            {
                "from": None if h.from_status is None else h.from_status.value,
                "to": h.to_status.value,
                "by": h.by,
                "at": h.at.isoformat(),
                "note": h.note,
            }
            for h in case.history
        ],
        ensure_ascii=False,
    )


class FraudRepository:
    def __init__(self, conn: Connection, cipher: FieldCipher) -> None:
        self.conn = conn
        self.cipher = cipher

    def key(self, kind: SubjectKind, normalized: str) -> str:
        """The blind index of a normalized subject (``lists.normalize``)."""
        context = {
            SubjectKind.RESIDENT_ID: CUSTOMER_ID_NUMBER.name,
            SubjectKind.ENTERPRISE: ENTERPRISE_CONTEXT,
        }.get(kind, f"fraud.{kind.value}")
        return self.cipher.blind_index(normalized, context=context)

    # -- lists ----------------------------------------------------------------------------------

    def add_entries(self, entries: Sequence[ListEntry]) -> list[int]:
        ids = []
        for e in entries:
            ids.append(
                int(
                    self.conn.execute(
                        sa.insert(ft.fraud_list_entries)
                        .values(
                            list_type=e.list_type.value,
                            kind=e.kind.value,
                            subject_key=e.subject_key,
                            source=e.source.value,
                            reason=e.reason,
                            evidence=e.evidence,
                            masked=e.masked,
                            added_by=e.added_by,
                            added_at=e.added_at,
                            expires_at=e.expires_at,
                        )
                        .returning(ft.fraud_list_entries.c.id)
                    ).scalar_one()
                )
            )
        return ids

    def entries_for(self, subjects: Iterable[tuple[SubjectKind, str]]) -> list[ListEntry]:
        pairs = [(k.value, key) for k, key in subjects]
        if not pairs:
            return []
        c = ft.fraud_list_entries.c
        query = sa.select(ft.fraud_list_entries).where(
            sa.or_(*[sa.and_(c.kind == k, c.subject_key == key) for k, key in pairs])
        )
        return [_entry(r) for r in self.conn.execute(query).mappings()]

    def get_entry(self, entry_id: int, *, for_update: bool = False) -> ListEntry:
        query = sa.select(ft.fraud_list_entries).where(ft.fraud_list_entries.c.id == entry_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        if row is None:
            raise NotFound("no such list entry", code="fraud.list.not_found")
        return _entry(row)

    def remove_entry(self, entry_id: int, *, by: str, at: datetime) -> None:
        self.conn.execute(
            sa.update(ft.fraud_list_entries)
            .where(ft.fraud_list_entries.c.id == entry_id)
            .values(removed_at=at, removed_by=by)
        )

    def list_entries(
        self, *, list_type: ListType | None = None, limit: int = 200
    ) -> list[ListEntry]:
        c = ft.fraud_list_entries.c
        query = sa.select(ft.fraud_list_entries).order_by(c.id.desc()).limit(limit)
        if list_type is not None:
            query = query.where(c.list_type == list_type.value)
        return [_entry(r) for r in self.conn.execute(query).mappings()]

    # -- application events: velocity and graph edges ------------------------------------------

    def add_events(
        self,
        application_id: int,
        applicant_key: str,
        subjects: Iterable[tuple[SubjectKind, str]],
        at: datetime,
    ) -> None:
        rows = [
            {
                "application_id": application_id,
                "applicant_key": applicant_key,
                "kind": kind.value,
                "subject_key": key,
                "at": at,
            }
            for kind, key in subjects
        ]
        if rows:
            self.conn.execute(sa.insert(ft.fraud_events), rows)

    def velocity(
        self, subjects: Iterable[tuple[SubjectKind, str]], now: datetime
    ) -> dict[tuple[SubjectKind, str], int]:
        """Earlier applications per subject kind and window, ``{(kind, "1h"): n, …}``: one
        query for every subject and window."""
        c = ft.fraud_events.c
        pairs = list(subjects)
        out = {(kind, name): 0 for kind, _ in pairs for name in WINDOWS}
        if not pairs:
            return out
        counts = [
            sa.func.coalesce(sa.func.sum(sa.case((c.at >= now - span, 1), else_=0)), 0)
            for span in WINDOWS.values()
        ]
        query = (
            sa.select(c.kind, c.subject_key, *counts)
            .where(sa.or_(*[sa.and_(c.kind == k.value, c.subject_key == key) for k, key in pairs]))
            .where(c.at >= now - max(WINDOWS.values()), c.at <= now)
            .group_by(c.kind, c.subject_key)
        )
        for row in self.conn.execute(query):
            kind = SubjectKind(row[0])
            for name, value in zip(WINDOWS, row[2:], strict=True):
                out[(kind, name)] = int(value)
        return out

    def events(self) -> list[RowMapping]:
        """Every application event (to build the relationship graph), oldest first."""
        c = ft.fraud_events.c
        query = sa.select(c.application_id, c.applicant_key, c.kind, c.subject_key).order_by(c.id)
        return list(self.conn.execute(query).mappings())

    # -- assessments ----------------------------------------------------------------------------

    def add_assessment(
        self, application_id: int, applicant_key: str, a: FraudAssessment, at: datetime
    ) -> None:
        self.conn.execute(
            sa.insert(ft.fraud_assessments).values(
                application_id=application_id,
                applicant_key=applicant_key,
                level=a.level.value,
                disposal=a.disposal.value,
                fired=json.dumps([r.rule_id for r in a.fired]),
                variables=json.dumps(dict(a.variables), sort_keys=True),
                rule_set=a.rule_set,
                assessed_at=at,
            )
        )

    def assessment(self, application_id: int) -> dict[str, Any] | None:
        row = (
            self.conn.execute(
                sa.select(ft.fraud_assessments).where(
                    ft.fraud_assessments.c.application_id == application_id
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else dict(row)

    def assessments(self) -> list[RowMapping]:
        return list(self.conn.execute(sa.select(ft.fraud_assessments)).mappings())

    # -- cases ----------------------------------------------------------------------------------

    def add_case(self, case: FraudCase) -> int:
        return int(
            self.conn.execute(
                sa.insert(ft.fraud_cases)
                .values(
                    application_id=case.application_id,
                    applicant_key=case.applicant_key,
                    status=case.status.value,
                    reason=case.reason,
                    opened_by=case.opened_by,
                    opened_at=case.opened_at,
                    history=_history(case),
                )
                .returning(ft.fraud_cases.c.id)
            ).scalar_one()
        )

    def get_case(self, case_id: int, *, for_update: bool = False) -> FraudCase:
        query = sa.select(ft.fraud_cases).where(ft.fraud_cases.c.id == case_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        if row is None:
            raise NotFound("no such fraud case", code="fraud.case.not_found")
        return _case(row)

    def save_case(self, case: FraudCase) -> None:
        self.conn.execute(
            sa.update(ft.fraud_cases)
            .where(ft.fraud_cases.c.id == case.id)
            .values(status=case.status.value, history=_history(case))
        )

    def cases(self, *, status: CaseStatus | None = None, limit: int = 200) -> list[FraudCase]:
        query = sa.select(ft.fraud_cases).order_by(ft.fraud_cases.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(ft.fraud_cases.c.status == status.value)
        return [_case(r) for r in self.conn.execute(query).mappings()]

    def declined_applicants(self) -> set[str]:
        from puhui.adapters.db import tables as t

        e, a = ft.fraud_events.c, t.credit_applications.c
        query = (
            sa.select(e.applicant_key)
            .join(t.credit_applications, a.id == e.application_id)
            .where(a.status == "declined")
            .distinct()
        )
        return {r[0] for r in self.conn.execute(query)}

    def labelled(self, status: CaseStatus) -> set[str]:
        c = ft.fraud_cases.c
        query = sa.select(c.applicant_key).where(c.status == status.value).distinct()
        return {r[0] for r in self.conn.execute(query)}
