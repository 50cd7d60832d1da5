"""``puhui fraud list-import|list-lookup|backtest``: anti-fraud lists and back-testing from the
shell (R-9.6). Commands run as the system operator and are audited as such."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from puhui.adapters.cli.errors import handles_errors
from puhui.domain.identity import SYSTEM

fraud_app = typer.Typer(
    help="Anti-fraud: black/grey/white lists, back-testing.", no_args_is_help=True
)


def _ctx() -> Any:
    from puhui.bootstrap import build_platform
    from puhui.settings import Settings

    return build_platform(Settings()).ctx


@fraud_app.command("list-import")
@handles_errors
def list_import(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header: list_type,kind,value,reason[,evidence][,expires_on]."
        ),
    ],
    source: Annotated[str, typer.Option(help="Where the list comes from.")] = "",
) -> None:
    """Import list entries: valid rows are stored together, each bad row is reported; exits 1
    when any row was refused."""
    from puhui.services.fraud import import_list

    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = [
            {k: v for k, v in row.items() if k is not None and v not in (None, "")}
            for row in csv.DictReader(handle)
        ]
    result = import_list(_ctx(), SYSTEM, rows, source_name=source or path.name)
    typer.echo(f"{len(result.added)} entries added, {len(result.errors)} rows refused")
    for e in result.errors:
        typer.echo(f"row {e.row}: {e.field}: {e.message} ({e.code})")
    if result.errors:
        raise typer.Exit(1)


@fraud_app.command("list-lookup")
@handles_errors
def list_lookup(
    kind: Annotated[str, typer.Argument(help="resident_id, mobile, bank_card, device, ip, …")],
    value: Annotated[str, typer.Argument(help="The value, in any usual spelling.")],
) -> None:
    """Entries naming a subject, active or not (JSON lines)."""
    from puhui.services.fraud import lookup

    ctx = _ctx()
    now = ctx.clock()
    for e in lookup(ctx, SYSTEM, kind, value):
        line = {
            "id": e.id,
            "list_type": e.list_type.value,
            "kind": e.kind.value,
            "masked": e.masked,
            "reason": e.reason,
            "active": e.is_active(now),
            "expires_at": None if e.expires_at is None else e.expires_at.isoformat(),
        }
        typer.echo(json.dumps(line, ensure_ascii=False))


@fraud_app.command("backtest")
@handles_errors
def backtest() -> None:
    """Precision, recall and lift of every fraud rule and graph signal on confirmed cases."""
    from puhui.services.fraud import backtest_report

    typer.echo(json.dumps(backtest_report(_ctx(), SYSTEM), ensure_ascii=False, indent=2))


@fraud_app.command("rings")
@handles_errors
def rings(
    flag: Annotated[
        bool, typer.Option("--flag", help="Grey-list the members of every suspect group.")
    ] = False,
    top: Annotated[int, typer.Option(help="Print at most this many groups.")] = 20,
) -> None:
    """Batch ring detection over every stored application (R-9.6): suspect groups with their
    evidence; with ``--flag`` their members go on the grey list (audited)."""
    from puhui.adapters.fraud.ring_detection import detect_rings
    from puhui.services.fraud import flag_suspects, relationship_graph

    ctx = _ctx()
    graph = relationship_graph(ctx, SYSTEM)
    report = detect_rings(graph.snapshot())
    typer.echo(
        f"{report.applicants:,} applicants, {report.links:,} links, "
        f"{len(report.groups)} suspect groups ({sum(report.seconds.values()):.2f} s)"
    )
    for number, group in enumerate(report.groups[:top], start=1):
        kinds = sorted({str(a.kind) for a in group.evidence})
        typer.echo(
            f"group {number}: {group.size} members, score {group.score:.2f}, "
            f"{group.households} households, shares {', '.join(kinds)}"
        )
    if flag and report.groups:
        added = flag_suspects(ctx, SYSTEM, report.groups)
        typer.echo(f"{added} members put on the grey list")
