"""Simulation (R-9.2, R-6.5): run a candidate strategy — a rule set, a scorecard, a policy — over
stored past applications and compare it with what the champion decided.

Each stored decision record holds the variables it was decided on; the candidate re-decides
from exactly those (``decision.variables_from_record``), so the comparison isolates the change of
rules, score or policy from any change in the data. Sources that failed at the time fail again
(their fallback applies). The unified group exposure is the one the record stored; concentration
room is taken from today's portfolio.

The report gives, per arm, the approve / review / decline counts and rates, the expected bad
rate of the approved (mean PD), the swap set (approved by one and not the other), the firing
rate of every rule, and the applications whose outcome changed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from puhui.domain.identity import Permission, Principal
from puhui.domain.money import Money
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.decision import Strategy, decide_on_variables, variables_from_record
from puhui.domain.risk.sources import SourceOutcome, SourceStatus
from puhui.services.ports import ServiceContext

OUTCOMES = ("approve", "review", "decline")


@dataclass
class ArmSummary:
    name: str
    versions: dict[str, str]
    counts: Counter[str] = field(default_factory=Counter)
    pd_sum: Decimal = Decimal(0)
    rules_fired: Counter[str] = field(default_factory=Counter)

    def rate(self, outcome: str, n: int) -> Decimal:
        return (Decimal(self.counts[outcome]) / n).quantize(Decimal("0.0001")) if n else Decimal(0)

    def expected_bad_rate(self) -> Decimal | None:
        approved = self.counts["approve"]
        if not approved:
            return None
        return (self.pd_sum / approved).quantize(Decimal("0.000001"))


@dataclass
class SimulationReport:
    applications: int
    champion: ArmSummary
    candidate: ArmSummary
    swap_in: int = 0  # approved by the candidate, not by the champion
    swap_out: int = 0  # approved by the champion, not by the candidate
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (ref, champion, cand.)

    def as_dict(self) -> dict[str, Any]:
        n = self.applications

        def arm(a: ArmSummary) -> dict[str, Any]:
            ebr = a.expected_bad_rate()
            return {
                "versions": a.versions,
                "counts": {o: a.counts[o] for o in OUTCOMES},
                "rates": {o: str(a.rate(o, n)) for o in OUTCOMES},
                "expected_bad_rate": None if ebr is None else str(ebr),
                "rules_fired": dict(sorted(a.rules_fired.items())),
            }

        return {
            "applications": n,
            "champion": arm(self.champion),
            "candidate": arm(self.candidate),
            "swap_in": self.swap_in,
            "swap_out": self.swap_out,
            "changed": [
                {"application": ref, "champion": c, "candidate": d} for ref, c, d in self.changed
            ],
        }


def simulate(
    ctx: ServiceContext,
    actor: Principal,
    candidate: Strategy,
    *,
    since: date | None = None,
    limit: int = 100_000,
    changed_listed: int = 50,
) -> SimulationReport:
    """Re-decide stored applications with ``candidate`` and compare (nothing is written)."""
    actor.require(Permission.RULES_MANAGE)
    with ctx.uow() as uow:
        history = uow.risk.history(since=since, limit=limit)
        portfolio = uow.risk.portfolio_exposure()
        snapshots = {s.application_id: uow.risk.snapshot(s.application_id) for s in history}
    first = history[0].record["versions"] if history else {}
    report = SimulationReport(
        len(history),
        ArmSummary("champion", dict(first)),
        ArmSummary("candidate", candidate.versions),
    )
    for stored in history:
        record = stored.record
        application = CreditApplication.from_mapping(json.loads(snapshots[stored.application_id]))
        product = ctx.products[application.product_code]
        outcomes = {
            sid: SourceOutcome(sid, SourceStatus(src["status"]))
            for sid, src in record["sources"].items()
        }
        decision = decide_on_variables(
            candidate,
            product,
            application,
            variables_from_record(candidate.catalogue, record["variables"]),
            outcomes,
            as_of=date.fromisoformat(record["as_of"]),
            group_exposure=Money(Decimal(record["limit"]["group_exposure"])),
            consumer_exposure=Money(Decimal(record["limit"].get("consumer_exposure", "0"))),
            portfolio=portfolio,
        )
        old, new = stored.outcome, decision.outcome
        _count(report.champion, old, Decimal(record["score"]["pd"]), record["rules"])
        _count(
            report.candidate,
            new,
            decision.score.pd,
            [{"rule_id": r.rule_id, "fired": r.fired} for r in decision.rules.rules],
        )
        if new == "approve" and old != "approve":
            report.swap_in += 1
        if old == "approve" and new != "approve":
            report.swap_out += 1
        if old != new and len(report.changed) < changed_listed:
            report.changed.append((stored.application_ref, old, new))
    return report


def _count(arm: ArmSummary, outcome: str, pd: Decimal, rules: list[dict[str, Any]]) -> None:
    arm.counts[outcome] += 1
    if outcome == "approve":
        arm.pd_sum += pd
    for rule in rules:
        if rule["fired"]:
            arm.rules_fired[rule["rule_id"]] += 1
