"""Anti-fraud as use cases (R-9.6, R-M6.4.5).

- **Assessment in the decision path**: :func:`subjects` turns an application (and the device it
  came from) into blind-indexed subjects; :func:`signals` reads the lists, the velocity counts
  (1 h, 24 h, 30 d) and the relationship graph's neighbourhood features and adds the identity
  provider's checks; ``domain.fraud.assessment.assess`` evaluates the fraud rule set on them;
  :func:`record` stores the application's events (the next applications' velocity and the
  graph's edges) and the assessment, in the decision's transaction.
- **Lists**: :func:`add_list_entry`, :func:`import_list` (valid rows stored together, bad rows
  reported), :func:`request_list_removal` — removal before expiry needs a second person
  (maker-checker; executed by :func:`execute_list_removal` on approval).
- **Cases**: :func:`open_case`, :func:`move_case`; confirming one labels the applicant as
  confirmed fraud (graph) and black-lists the ID with the case as evidence.
- **Back-testing**: :func:`backtest_report`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from puhui.domain.errors import Conflict, ValidationError
from puhui.domain.fraud.assessment import FraudAssessment, assess
from puhui.domain.fraud.backtest import Assessed, backtest
from puhui.domain.fraud.cases import CaseStatus, FraudCase, move, opened
from puhui.domain.fraud.device import DeviceInfo
from puhui.domain.fraud.graph import ApplicantLabel, ApplicationLinks, NodeKind, RelationshipGraph
from puhui.domain.fraud.lists import (
    ListEntry,
    ListSource,
    ListType,
    RowError,
    SubjectKind,
    active_hits,
    mask,
    normalize,
    parse_row,
    parse_rows,
)
from puhui.domain.identity import PendingAction, Permission, Principal
from puhui.services.audit import audited
from puhui.services.platform import CHINA
from puhui.services.ports import ServiceContext, UnitOfWork

__all__ = [
    "FraudSetup",
    "add_list_entry",
    "backtest_report",
    "execute_list_removal",
    "import_list",
    "move_case",
    "observe",
    "open_case",
    "record",
    "request_list_removal",
    "signals",
    "subjects",
]

_NODE: dict[SubjectKind, NodeKind] = {
    SubjectKind.MOBILE: NodeKind.PHONE,
    SubjectKind.DEVICE: NodeKind.DEVICE,
    SubjectKind.IP: NodeKind.IP,
    SubjectKind.ENTERPRISE: NodeKind.ENTERPRISE,
    SubjectKind.BANK_CARD: NodeKind.BANK_CARD,
    SubjectKind.ADDRESS: NodeKind.ADDRESS,
}


@dataclass
class FraudSetup:
    """The fraud rule set, the disposal policy and the relationship graph (built lazily from
    the stored application events, then kept up to date by each decision of this process)."""

    rule_set: Any  # domain.risk.rule_set.RuleSet
    policy: Any  # domain.fraud.assessment.DisposalPolicy
    graph: RelationshipGraph | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def graph_of(self, uow: UnitOfWork) -> RelationshipGraph:
        with self._lock:
            if self.graph is None:
                graph = RelationshipGraph()
                per_application: dict[int, tuple[str, list[tuple[NodeKind, str]]]] = {}
                for row in uow.fraud.events():
                    kind = SubjectKind(row["kind"])
                    entry = per_application.setdefault(
                        row["application_id"], (row["applicant_key"], [])
                    )
                    if kind in _NODE:
                        entry[1].append((_NODE[kind], row["subject_key"]))
                for applicant, pairs in per_application.values():
                    if pairs:
                        graph.add_application(ApplicationLinks(applicant, tuple(pairs)))
                for key in uow.fraud.declined_applicants():
                    if key in graph:
                        graph.set_label(key, ApplicantLabel.DECLINED)
                for key in uow.fraud.labelled(CaseStatus.CONFIRMED):
                    if key in graph:
                        graph.set_label(key, ApplicantLabel.CONFIRMED_FRAUD)
                self.graph = graph
            return self.graph


def setup_of(ctx: ServiceContext) -> FraudSetup:
    setup: FraudSetup | None = ctx.fraud
    if setup is None:
        raise Conflict("anti-fraud is not configured", code="fraud.not_configured")
    return setup


# -- the assessment -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subjects:
    applicant_key: str
    pairs: tuple[tuple[SubjectKind, str], ...]  # every subject, the applicant's ID first
    device: DeviceInfo | None


def subjects(uow: UnitOfWork, application: Any, device: DeviceInfo | None) -> Subjects:
    """The application's subjects as blind indexes (resident ID, mobile, enterprise, device,
    IP network)."""
    fraud = uow.fraud
    applicant = fraud.key(SubjectKind.RESIDENT_ID, application.applicant_resident_id)
    pairs = [
        (SubjectKind.RESIDENT_ID, applicant),
        (SubjectKind.MOBILE, fraud.key(SubjectKind.MOBILE, application.applicant_mobile)),
    ]
    if application.enterprise_uscc:
        pairs.append(
            (SubjectKind.ENTERPRISE, fraud.key(SubjectKind.ENTERPRISE, application.enterprise_uscc))
        )
    if device is not None:
        pairs.append((SubjectKind.DEVICE, fraud.key(SubjectKind.DEVICE, device.device_id)))
        pairs.append((SubjectKind.IP, fraud.key(SubjectKind.IP, device.ip)))
    return Subjects(applicant, tuple(pairs), device)


def _identity(payload: Mapping[str, Any] | None) -> dict[str, object]:
    if payload is None:
        return {}
    return {
        "id_name_mismatch": not payload["id_name_match"],
        "phone_owner_mismatch": not payload["phone_owner_match"],
        "phone_in_service_months": int(payload["phone_in_service_months"]),
    }


@dataclass(frozen=True)
class Observed:
    """What the database says about an application's subjects (read in the decision's read
    step, without the write lock): active list entries and earlier applications per window."""

    hits: tuple[ListEntry, ...]
    counts: Mapping[tuple[SubjectKind, str], int]


def observe(uow: UnitOfWork, setup: FraudSetup, found: Subjects, now: datetime) -> Observed:
    setup.graph_of(uow)  # built on first use, from the stored applications
    hits = active_hits(uow.fraud.entries_for(found.pairs), now)
    return Observed(tuple(hits), uow.fraud.velocity(found.pairs, now))


def signals(
    setup: FraudSetup,
    found: Subjects,
    observed: Observed,
    *,
    identity: Mapping[str, Any] | None,
) -> dict[str, object]:
    """The fraud variables of an application (R-9.6(a)). The application joins this process's
    graph here (a retry adds nothing): an attempt counts as a link even if it is never stored,
    as it counts for velocity."""
    hits, counts = observed.hits, observed.counts
    by_kind = dict(found.pairs)

    def count(kind: SubjectKind, window: str) -> int | None:
        return counts.get((kind, window)) if kind in by_kind else None

    values: dict[str, object] = {
        "black_list_hits": sum(1 for e in hits if e.list_type is ListType.BLACK),
        "grey_list_hits": sum(1 for e in hits if e.list_type is ListType.GREY),
        "white_listed": any(
            e.list_type is ListType.WHITE and e.kind is SubjectKind.RESIDENT_ID for e in hits
        ),
        "apps_per_id_24h": count(SubjectKind.RESIDENT_ID, "24h"),
        "apps_per_phone_1h": count(SubjectKind.MOBILE, "1h"),
        "apps_per_device_24h": count(SubjectKind.DEVICE, "24h"),
        "apps_per_device_30d": count(SubjectKind.DEVICE, "30d"),
        "apps_per_ip_1h": count(SubjectKind.IP, "1h"),
        "apps_per_ip_24h": count(SubjectKind.IP, "24h"),
        **_identity(identity),
    }
    if found.device is not None:
        values["device_emulator"] = found.device.emulator
        values["device_rooted"] = found.device.rooted
    links = _links(found)
    if links is not None and setup.graph is not None:
        features = setup.graph.add_and_read(links)
        values.update(
            graph_applicants_2hop=features.linked_applicants,
            graph_declined_2hop=features.declined,
            graph_overdue_2hop=features.overdue,
            graph_confirmed_fraud_2hop=features.confirmed_fraud,
            graph_shared_device_applicants=features.shared_devices,
        )
    return values


def _links(found: Subjects) -> ApplicationLinks | None:
    pairs = tuple((_NODE[k], key) for k, key in found.pairs if k in _NODE)
    return ApplicationLinks(found.applicant_key, pairs) if pairs else None


def assess_application(setup: FraudSetup, variables: Mapping[str, object]) -> FraudAssessment:
    return assess(setup.rule_set, setup.policy, variables)


def record(
    uow: UnitOfWork,
    setup: FraudSetup,
    application_id: int,
    found: Subjects,
    assessment: FraudAssessment,
    *,
    declined: bool,
    now: datetime,
) -> None:
    """Store the application's events and its assessment (in the decision's unit of work) and
    keep this process's graph up to date."""
    uow.fraud.add_events(application_id, found.applicant_key, found.pairs, now)
    uow.fraud.add_assessment(application_id, found.applicant_key, assessment, now)
    graph = setup.graph_of(uow)
    if declined and found.applicant_key in graph:
        graph.set_label(found.applicant_key, ApplicantLabel.DECLINED)


def _today(ctx: ServiceContext) -> Any:
    """Lists live in real time (not the business date): today in China."""
    return ctx.clock().astimezone(CHINA).date()


# -- lists ----------------------------------------------------------------------------------------


def _entry(
    uow: UnitOfWork,
    row: Any,
    *,
    source: ListSource,
    actor: Principal,
    now: datetime,
) -> ListEntry:
    return ListEntry(
        id=None,
        list_type=row.list_type,
        kind=row.kind,
        subject_key=uow.fraud.key(row.kind, row.value),
        source=source,
        reason=row.reason,
        evidence=row.evidence,
        added_by=actor.ref,
        added_at=now,
        expires_at=row.expires_at,
        masked=mask(row.kind, row.value)[:40],
    )


def add_list_entry(
    ctx: ServiceContext,
    actor: Principal,
    data: Mapping[str, object],
    *,
    request_id: str | None = None,
) -> ListEntry:
    """Add one entry (``list_type, kind, value, reason, evidence?, expires_on?``); audited."""

    def body(uow: UnitOfWork) -> tuple[ListEntry, str, dict[str, Any]]:
        actor.require(Permission.FRAUD_MANAGE)
        row = parse_row(data, _today(ctx))
        entry = _entry(uow, row, source=ListSource.MANUAL, actor=actor, now=ctx.clock())
        (entry_id,) = uow.fraud.add_entries([entry])
        return (
            uow.fraud.get_entry(entry_id),
            f"fraud_list_entry:{entry_id}",
            {"list_type": entry.list_type.value, "kind": entry.kind.value},
        )

    return audited(ctx, actor=actor, action="fraud.list_add", request_id=request_id, body=body)


@dataclass(frozen=True)
class ImportResult:
    added: list[int]
    errors: list[RowError]


def import_list(
    ctx: ServiceContext,
    actor: Principal,
    rows: Sequence[Mapping[str, object]],
    *,
    source_name: str,
    request_id: str | None = None,
) -> ImportResult:
    """Import entries: every valid row is stored (all together, in one transaction), every bad
    row is reported with its number, field and reason; nothing is half-applied."""
    if len(rows) > 10_000:
        raise ValidationError("at most 10,000 rows per import", code="fraud.list.too_many_rows")

    def body(uow: UnitOfWork) -> tuple[ImportResult, str, dict[str, Any]]:
        actor.require(Permission.FRAUD_MANAGE)
        valid, errors = parse_rows(rows, _today(ctx))
        now = ctx.clock()
        entries = [
            _entry(uow, row, source=ListSource.IMPORT, actor=actor, now=now) for row in valid
        ]
        ids = uow.fraud.add_entries(entries)
        return (
            ImportResult(ids, errors),
            "fraud_lists",
            {"source": source_name[:80], "added": len(ids), "rejected": len(errors)},
        )

    return audited(ctx, actor=actor, action="fraud.list_import", request_id=request_id, body=body)


def lookup(
    ctx: ServiceContext, actor: Principal, kind: str, value: str, *, at: datetime | None = None
) -> list[ListEntry]:
    """Entries naming a subject (active or not), newest first."""
    actor.require(Permission.FRAUD_MANAGE)
    subject = SubjectKind(kind) if kind in {k.value for k in SubjectKind} else None
    if subject is None:
        raise ValidationError(
            f"kind must be one of {[k.value for k in SubjectKind]}",
            code="fraud.list.invalid_field",
            details={"field": "kind"},
        )
    with ctx.uow() as uow:
        key = uow.fraud.key(subject, normalize(subject, value))
        found: list[ListEntry] = uow.fraud.entries_for([(subject, key)])
    return sorted(found, key=lambda e: e.added_at, reverse=True)


def request_list_removal(
    ctx: ServiceContext,
    actor: Principal,
    entry_id: int,
    reason: str,
    *,
    request_id: str | None = None,
) -> PendingAction:
    """Ask for an entry to be removed before it expires; a second person with
    ``fraud.manage`` approves it at ``/api/v1/approvals`` (R-9.6 lists, maker-checker)."""

    def body(uow: UnitOfWork) -> tuple[PendingAction, str, dict[str, Any]]:
        actor.require(Permission.FRAUD_MANAGE)
        entry = uow.fraud.get_entry(entry_id)
        if not entry.is_active(ctx.clock()):
            raise Conflict(
                "the entry has expired or was removed already",
                code="fraud.list.not_active",
                details={"entry_id": entry_id},
            )
        if not reason or not reason.strip() or len(reason) > 400:
            raise ValidationError(
                "a reason of 1-400 characters is required",
                code="fraud.list.invalid_field",
                details={"field": "reason"},
            )
        pending = uow.pending.add(
            PendingAction(
                id=None,
                action="fraud.list_remove",
                payload={"entry_id": entry_id, "reason": reason.strip()},
                maker=actor.ref,
                checker_permission=Permission.FRAUD_MANAGE,
            ),
            now=ctx.clock(),
        )
        return pending, f"fraud_list_entry:{entry_id}", {"pending_action_id": pending.id}

    return audited(
        ctx, actor=actor, action="fraud.list_remove_request", request_id=request_id, body=body
    )


def execute_list_removal(ctx: ServiceContext, uow: UnitOfWork, pending: PendingAction) -> str:
    entry_id = int(pending.payload["entry_id"])
    entry = uow.fraud.get_entry(entry_id, for_update=True)
    if not entry.is_active(ctx.clock()):
        raise Conflict("the entry is no longer active", code="fraud.list.not_active")
    uow.fraud.remove_entry(entry_id, by=str(pending.checker), at=ctx.clock())
    return f"fraud_list_entry:{entry_id}"


# -- cases ----------------------------------------------------------------------------------------


def open_case(
    ctx: ServiceContext,
    actor: Principal,
    application_id: int,
    reason: str,
    *,
    request_id: str | None = None,
) -> FraudCase:
    """Open a case on an application's applicant (R-9.6(c))."""

    def body(uow: UnitOfWork) -> tuple[FraudCase, str, dict[str, Any]]:
        actor.require(Permission.FRAUD_MANAGE)
        assessed = uow.fraud.assessment(application_id)
        if assessed is None:
            uow.risk.get(application_id)  # not found, or found without an assessment
            raise Conflict(
                "the application has no fraud assessment",
                code="fraud.case.no_assessment",
                details={"application_id": application_id},
            )
        case = opened(application_id, assessed["applicant_key"], reason, by=actor.ref,
                      at=ctx.clock())  # fmt: skip
        case_id = uow.fraud.add_case(case)
        return (
            uow.fraud.get_case(case_id),
            f"fraud_case:{case_id}",
            {"application_id": application_id},
        )

    return audited(ctx, actor=actor, action="fraud.case_open", request_id=request_id, body=body)


def move_case(
    ctx: ServiceContext,
    actor: Principal,
    case_id: int,
    to: str,
    note: str,
    *,
    request_id: str | None = None,
) -> FraudCase:
    """Investigate, confirm or dismiss a case. Confirming labels the applicant as confirmed
    fraud and black-lists the applicant's ID with the case as evidence."""
    try:
        target = CaseStatus(to)
    except ValueError:
        raise ValidationError(
            f"status must be one of {[s.value for s in CaseStatus]}",
            code="fraud.case.invalid_status",
            details={"field": "status"},
        ) from None
    setup = setup_of(ctx)

    def body(uow: UnitOfWork) -> tuple[FraudCase, str, dict[str, Any]]:
        actor.require(Permission.FRAUD_MANAGE)
        now = ctx.clock()
        case = move(uow.fraud.get_case(case_id, for_update=True), target, by=actor.ref, at=now,
                    note=note)  # fmt: skip
        uow.fraud.save_case(case)
        if target is CaseStatus.CONFIRMED:
            uow.fraud.add_entries(
                [
                    ListEntry(
                        id=None,
                        list_type=ListType.BLACK,
                        kind=SubjectKind.RESIDENT_ID,
                        subject_key=case.applicant_key,
                        source=ListSource.CASE,
                        reason=f"confirmed fraud case {case_id}",
                        evidence=f"fraud_case:{case_id}",
                        added_by=actor.ref,
                        added_at=now,
                        masked="(case)",
                    )
                ]
            )
            graph = setup.graph_of(uow)
            if case.applicant_key in graph:
                graph.set_label(case.applicant_key, ApplicantLabel.CONFIRMED_FRAUD)
        return case, f"fraud_case:{case_id}", {"status": target.value}

    return audited(ctx, actor=actor, action="fraud.case_move", request_id=request_id, body=body)


# -- back-testing ---------------------------------------------------------------------------------


def backtest_report(ctx: ServiceContext, actor: Principal) -> dict[str, Any]:
    """Precision, recall and lift of every fraud rule and graph signal on confirmed cases."""
    actor.require(Permission.FRAUD_MANAGE)
    setup = setup_of(ctx)
    with ctx.uow() as uow:
        confirmed = uow.fraud.labelled(CaseStatus.CONFIRMED)
        rows = [
            Assessed(
                application_id=int(r["application_id"]),
                fired=frozenset(json.loads(r["fired"])),
                variables=json.loads(r["variables"]),
                fraud=r["applicant_key"] in confirmed,
            )
            for r in uow.fraud.assessments()
        ]
    population, positives, results = backtest(rows, [r.rule_id for r in setup.rule_set.rules])
    return {
        "population": population,
        "confirmed_fraud": positives,
        "rule_set": f"{setup.rule_set.id}@{setup.rule_set.version}",
        "signals": [
            {
                "signal": r.signal,
                "flagged": r.flagged,
                "true_positives": r.true_positives,
                "precision": None if r.precision is None else str(r.precision),
                "recall": None if r.recall is None else str(r.recall),
                "lift": None if r.lift is None else str(r.lift),
            }
            for r in results
        ],
    }


def list_cases(
    ctx: ServiceContext, actor: Principal, status: CaseStatus | None = None
) -> list[FraudCase]:
    actor.require(Permission.FRAUD_MANAGE)
    with ctx.uow() as uow:
        found: list[FraudCase] = uow.fraud.cases(status=status)
    return found


# -- suspect groups from batch ring detection ----------------------------------------------


def flag_suspects(
    ctx: ServiceContext,
    actor: Principal,
    groups: Sequence[Any],
    *,
    request_id: str | None = None,
) -> int:
    """Put the members of suspect groups (``domain.fraud.rings.SuspectGroup``, from batch ring
    detection) on the **grey list** — step-up and review for their next applications — unless
    an active black or grey entry names them already; one transaction, audited. Returns how
    many entries were added."""
    import hashlib

    def body(uow: UnitOfWork) -> tuple[int, str, dict[str, Any]]:
        actor.require(Permission.FRAUD_MANAGE)
        now = ctx.clock()
        entries: list[ListEntry] = []
        for number, group in enumerate(groups, start=1):
            tag = hashlib.sha256("".join(sorted(group.members)).encode()).hexdigest()[:16]
            pairs = [(SubjectKind.RESIDENT_ID, m) for m in group.members]
            listed = {
                e.subject_key
                for e in active_hits(uow.fraud.entries_for(pairs), now)
                if e.list_type in (ListType.BLACK, ListType.GREY)
            }
            kinds = sorted({str(a.kind) for a in group.evidence})[:6]
            for member in group.members:
                if member in listed:
                    continue
                listed.add(member)
                entries.append(
                    ListEntry(
                        id=None,
                        list_type=ListType.GREY,
                        kind=SubjectKind.RESIDENT_ID,
                        subject_key=member,
                        source=ListSource.RULE,
                        reason=(
                            f"疑似团伙成员 suspect ring member: group {number} of "
                            f"{group.size}, score {group.score:.2f}, shares {', '.join(kinds)}"
                        )[:400],
                        evidence=f"ring:{tag}",
                        added_by=actor.ref,
                        added_at=now,
                        masked="(graph)",
                    )
                )
        uow.fraud.add_entries(entries)
        return len(entries), "fraud_lists", {"groups": len(groups), "added": len(entries)}

    return audited(ctx, actor=actor, action="fraud.flag_suspects", request_id=request_id, body=body)


def relationship_graph(ctx: ServiceContext, actor: Principal) -> RelationshipGraph:
    """This process's relationship graph (built from the stored applications on first use)."""
    actor.require(Permission.FRAUD_MANAGE)
    setup = setup_of(ctx)
    with ctx.uow() as uow:
        return setup.graph_of(uow)
