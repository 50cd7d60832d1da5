"""Fraud cases (R-9.6(c)): open → investigating → confirmed | dismissed.

A confirmed case is a label: the applicant counts as a confirmed fraudster in the relationship
graph's neighbourhood features and in back-testing, and the services put the applicant's ID on
the black list with the case as evidence. A dismissed case is a label too (not fraud).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from puhui.domain.errors import Conflict, ValidationError

__all__ = ["CaseStatus", "CaseStep", "FraudCase", "move", "opened"]


class CaseStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


_NEXT: Final = {
    CaseStatus.OPEN: {CaseStatus.INVESTIGATING, CaseStatus.DISMISSED},
    CaseStatus.INVESTIGATING: {CaseStatus.CONFIRMED, CaseStatus.DISMISSED},
    CaseStatus.CONFIRMED: set(),
    CaseStatus.DISMISSED: set(),
}


@dataclass(frozen=True, slots=True)
class CaseStep:
    from_status: CaseStatus | None
    to_status: CaseStatus
    by: str
    at: datetime
    note: str


@dataclass(frozen=True, slots=True)
class FraudCase:
    id: int | None
    application_id: int | None
    applicant_key: str
    status: CaseStatus
    reason: str
    opened_by: str
    opened_at: datetime
    history: tuple[CaseStep, ...] = ()

    @property
    def closed(self) -> bool:
        return self.status in (CaseStatus.CONFIRMED, CaseStatus.DISMISSED)


def _note(text: str) -> str:
    if not isinstance(text, str) or not text.strip() or len(text) > 400:
        raise ValidationError(
            "a note of 1-400 characters is required",
            code="fraud.case.invalid_note",
            details={"field": "note"},
        )
    return text.strip()


def move(case: FraudCase, to: CaseStatus, *, by: str, at: datetime, note: str) -> FraudCase:
    """The one way a case changes; a closed case stays closed."""
    target = CaseStatus(to)
    if target not in _NEXT[case.status]:
        raise Conflict(
            f"a {case.status.value} case cannot become {target.value}",
            code="fraud.case.illegal_transition",
            details={"status": case.status.value, "to": target.value},
        )
    step = CaseStep(case.status, target, by, at, _note(note))
    return replace(case, status=target, history=(*case.history, step))


def opened(
    application_id: int | None, applicant_key: str, reason: str, *, by: str, at: datetime
) -> FraudCase:
    """A new case; its reason is the first step's note."""
    text = _note(reason)
    step = CaseStep(None, CaseStatus.OPEN, by, at, text)
    return FraudCase(None, application_id, applicant_key, CaseStatus.OPEN, text, by, at, (step,))
