"""``puhui decide``, ``puhui rules simulate|check`` and ``puhui consent grant|revoke|list``:
credit decisions from the shell (R-9.2, R-11.2). Commands run as the system operator and are
audited as such."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from puhui.adapters.cli.errors import handles_errors
from puhui.domain.errors import ValidationError
from puhui.domain.identity import SYSTEM

rules_app = typer.Typer(help="Admission rule sets: check and simulate.", no_args_is_help=True)
consent_app = typer.Typer(help="Customers' consents (授权).", no_args_is_help=True)
limits_app = typer.Typer(help="Credit limits: the periodic re-check.", no_args_is_help=True)


def _ctx() -> Any:
    from puhui.bootstrap import build_platform
    from puhui.settings import Settings

    return build_platform(Settings()).ctx


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValidationError(
            f"cannot read {what} {path}: {err}", code="cli.unreadable_file"
        ) from None


def _print_decision(stored: Any) -> None:
    record = stored.record
    typer.echo(
        f"application {stored.application_id} ({stored.application_ref}): {stored.outcome.upper()}"
        f" — status {stored.status}, arm {stored.arm}"
    )
    score = record["score"]
    typer.echo(f"  score {score['score']}, grade {score['grade']}, PD {score['pd']}")
    typer.echo(
        f"  limit {stored.limit:,.2f} (binding: {record['limit']['binding_constraint']}), "
        f"rate {stored.annual_rate}"
    )
    for code, zh, en in record["route"]:
        typer.echo(f"  route {code}: {zh} / {en}")
    fired = [r for r in record["rules"] if r["fired"]]
    typer.echo(f"  rules: {len(record['rules'])} evaluated, {len(fired)} fired")
    for r in fired:
        typer.echo(f"    {r['rule_id']} [{r['category']}, {r['outcome']}] {r['reason_zh']}")
    for reason in score["reasons"]:
        typer.echo(f"  reason {reason['code']} (-{reason['points_lost']}): {reason['zh']}")
    missing = record["variables"]["missing"]
    if missing:
        typer.echo(f"  missing data: {', '.join(missing)}")
    sources = record["sources"]
    if any(s["sandbox"] for s in sources.values()):
        typer.echo("  data: SANDBOX providers (simulated data)")
    typer.echo(f"  record hash {stored.record_hash}, {stored.latency_us / 1000:.1f} ms")


def register(app: typer.Typer) -> None:
    @app.command("decide")
    @handles_errors
    def decide(
        application: Annotated[Path, typer.Option(help="Application JSON file.")],
        output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    ) -> None:
        """Decide a credit application: rules, score, limit, price and route, explained."""
        from puhui.services.decisions import decide_application

        if output not in ("text", "json"):
            raise ValidationError("--format is text or json", code="cli.invalid_format")
        stored = decide_application(_ctx(), SYSTEM, _read_json(application, "application"))
        if output == "json":
            from puhui.adapters.web.api_decisions import decision_json

            typer.echo(json.dumps(decision_json(stored), ensure_ascii=False, indent=2))
        else:
            _print_decision(stored)

    app.add_typer(rules_app, name="rules")
    app.add_typer(consent_app, name="consent")
    app.add_typer(limits_app, name="limits")


@limits_app.command("recheck")
@handles_errors
def recheck(
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Re-check every approved limit on fresh data; propose increase, decrease, cancel or keep
    (nothing is changed)."""
    from puhui.services.limit_review import recheck_limits

    proposals = recheck_limits(_ctx(), SYSTEM)
    if output == "json":
        rows = [
            {**p.__dict__, "current": str(p.current), "proposed": str(p.proposed)}
            for p in proposals
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for p in proposals:
        typer.echo(
            f"{p.application_ref:<20} {p.product_code:<10} {p.action:<8} "
            f"{p.current:>14,.2f} -> {p.proposed:>14,.2f}  {p.reason_code}: {p.reason_zh}"
        )
    typer.echo(f"{len(proposals)} approved limits re-checked")


@rules_app.command("check")
@handles_errors
def check(
    rule_set: Annotated[Path, typer.Argument(help="A JDM rule-set file.")],
) -> None:
    """Load and validate a rule set; print its id, version, hash and rules."""
    from puhui.domain.risk.rule_set import load_rule_set

    loaded = load_rule_set(rule_set)
    typer.echo(f"{loaded.id} {loaded.version} sha256:{loaded.content_hash}")
    for rule in loaded.rules:
        typer.echo(f"  {rule.rule_id:<8} {rule.category:<14} {rule.outcome:<8} {rule.reason_en}")


@rules_app.command("simulate")
@handles_errors
def simulate(
    rule_set: Annotated[Path | None, typer.Option(help="Candidate rule set (JDM).")] = None,
    scorecard: Annotated[Path | None, typer.Option(help="Candidate scorecard.")] = None,
    policy: Annotated[Path | None, typer.Option(help="Candidate risk policy.")] = None,
    since: Annotated[str | None, typer.Option(help="Applications from YYYY-MM-DD.")] = None,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Re-decide stored applications with a candidate and compare with the champion."""
    from datetime import date

    from puhui.adapters.risk_setup import DEFAULT_RULE_SET, load_strategy
    from puhui.domain.risk.policy import DEFAULT_RISK_POLICY_PATH
    from puhui.domain.risk.scorecard import DEFAULT_SCORECARD_PATH
    from puhui.services.simulation import OUTCOMES
    from puhui.services.simulation import simulate as run

    if rule_set is None and scorecard is None and policy is None:
        raise ValidationError(
            "give at least one candidate: --rule-set, --scorecard or --policy",
            code="cli.no_candidate",
        )
    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        raise ValidationError(f"not a date: {since!r}", code="cli.invalid_date") from None
    candidate = load_strategy(
        rule_set or DEFAULT_RULE_SET,
        scorecard or DEFAULT_SCORECARD_PATH,
        policy or DEFAULT_RISK_POLICY_PATH,
        arm="challenger",
    )
    report = run(_ctx(), SYSTEM, candidate, since=start).as_dict()
    if output == "json":
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{report['applications']} stored applications re-decided")
    for arm in ("champion", "candidate"):
        a = report[arm]
        rates = ", ".join(f"{o} {a['counts'][o]} ({a['rates'][o]})" for o in OUTCOMES)
        typer.echo(f"  {arm:<9} {rates}; expected bad rate {a['expected_bad_rate']}")
        typer.echo(f"            {a['versions'].get('rule_set', '')}")
    typer.echo(f"  swap-in {report['swap_in']}, swap-out {report['swap_out']}")
    for change in report["changed"][:20]:
        typer.echo(f"    {change['application']}: {change['champion']} -> {change['candidate']}")


@consent_app.command("grant")
@handles_errors
def grant(
    resident_id: Annotated[str, typer.Option(help="The customer's ID number.")],
    purpose: Annotated[str, typer.Option(help="credit_report, tax_data, bank_flows, ...")],
    text_version: Annotated[str, typer.Option(help="Version of the text the customer read.")],
    valid_days: Annotated[int, typer.Option(help="Validity in days.")] = 365,
    channel: Annotated[str, typer.Option(help="Where it was given.")] = "branch",
) -> None:
    """Record a consent the customer gave (e.g. signed at a branch)."""
    from puhui.services.consents import grant_consent

    consent = grant_consent(
        _ctx(),
        SYSTEM,
        {
            "resident_id": resident_id,
            "purpose": purpose,
            "text_version": text_version,
            "valid_days": valid_days,
            "channel": channel,
        },
    )
    typer.echo(
        f"{consent.consent_id} {consent.purpose.value} {sorted(consent.scope)} "
        f"until {consent.expires_at:%Y-%m-%d}"
    )


@consent_app.command("revoke")
@handles_errors
def revoke(consent_id: str) -> None:
    """Revoke a consent: no more collection for its purpose."""
    from puhui.services.consents import revoke_consent

    consent = revoke_consent(_ctx(), SYSTEM, consent_id)
    typer.echo(f"{consent.consent_id} revoked at {consent.revoked_at:%Y-%m-%d %H:%M:%S}")


@consent_app.command("list")
@handles_errors
def list_consents(
    resident_id: Annotated[str, typer.Option(help="The customer's ID number.")],
) -> None:
    """A customer's consents, valid and revoked."""
    from puhui.services.consents import consents_of

    for c in consents_of(_ctx(), SYSTEM, resident_id):
        state = (
            f"revoked {c.revoked_at:%Y-%m-%d}" if c.revoked_at else f"until {c.expires_at:%Y-%m-%d}"
        )
        typer.echo(f"{c.consent_id} {c.purpose.value:<22} {state} text {c.text_version}")
