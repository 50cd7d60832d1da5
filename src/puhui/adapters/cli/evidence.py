"""``puhui evidence sign-head|notarize|proof``: the evidence log from the shell (R-9.4).
Commands run as the system operator and are audited as such."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from puhui.adapters.cli.errors import handles_errors
from puhui.domain.identity import SYSTEM

evidence_app = typer.Typer(
    help="The evidence log: signed tree heads, notarization, proofs.", no_args_is_help=True
)


def _ctx() -> Any:
    from puhui.bootstrap import build_platform
    from puhui.settings import Settings

    return build_platform(Settings()).ctx


@evidence_app.command("sign-head")
@handles_errors
def sign_head() -> None:
    """Sign the log's current tree head with the log key (run at intervals, e.g. each minute)."""
    from puhui.services.evidence import sign_head as run

    signed = run(_ctx(), SYSTEM)
    if signed is None:
        typer.echo("the evidence log is empty: nothing to sign")
        return
    head = signed.head
    typer.echo(
        f"tree head: {head.tree_size} leaves, root {head.root_hash.hex()} ({head.hash_alg.value}),"
        f" signed {head.timestamp:%Y-%m-%d %H:%M:%S} by key {signed.signature.key_id}"
        f" ({signed.signature.suite})"
    )


@evidence_app.command("notarize")
@handles_errors
def notarize() -> None:
    """Send the latest signed tree head and new leaf hashes (hashes only) to the notary."""
    from puhui.services.evidence import notarize as run

    receipt = run(_ctx(), SYSTEM)
    typer.echo(json.dumps(receipt, ensure_ascii=False, indent=2))


@evidence_app.command("proof")
@handles_errors
def proof(seq: Annotated[int, typer.Argument(help="The leaf's sequence number.")]) -> None:
    """Print a leaf, its inclusion proof and the signed tree head it leads to (JSON)."""
    from puhui.services.evidence import inclusion

    typer.echo(json.dumps(inclusion(_ctx(), SYSTEM, seq), ensure_ascii=False, indent=2))


@evidence_app.command("bundle")
@handles_errors
def bundle(
    contract_id: Annotated[str, typer.Argument(help="The sealed contract (ct-…).")],
    out: Annotated[str, typer.Option("--out", "-o", help="Where to write the bundle.")] = "",
) -> None:
    """Export a sealed contract's evidence bundle (puhui-evidence-bundle/1) for `puhui-verify`."""
    from pathlib import Path

    from puhui.adapters.evidence_bundle import bundle_document
    from puhui.adapters.verify import dump_bundle
    from puhui.services.archives import contract_evidence

    document = dump_bundle(bundle_document(contract_evidence(_ctx(), SYSTEM, contract_id)))
    target = Path(out or f"{contract_id}.bundle.json")
    target.write_bytes(document)
    typer.echo(f"evidence bundle written to {target} ({len(document):,} bytes)")


@evidence_app.command("watch")
@handles_errors
def watch(
    interval: Annotated[float, typer.Option(help="Seconds between tree heads.")] = 60.0,
    notarize_every: Annotated[
        int, typer.Option(help="Notarize every N-th new head (0: never).")
    ] = 10,
    rounds: Annotated[int, typer.Option(help="Stop after N rounds (0: run until stopped).")] = 0,
) -> None:
    """Sign a tree head at each interval when the log grew, and notarize every N-th new head:
    the scheduler of signed tree heads (run it beside the server)."""
    import time

    from puhui.services.evidence import notarize as run_notarize
    from puhui.services.evidence import sign_head as run_sign

    ctx = _ctx()
    done, last_size, signed_heads = 0, -1, 0
    while rounds == 0 or done < rounds:
        signed = run_sign(ctx, SYSTEM)
        if signed is not None and signed.head.tree_size != last_size:
            last_size = signed.head.tree_size
            signed_heads += 1
            line = f"tree head {last_size} signed"
            if notarize_every and signed_heads % notarize_every == 1 % notarize_every:
                receipt = run_notarize(ctx, SYSTEM)
                line += f", notarized ({receipt.get('receipt_id', receipt.get('id', 'receipt'))})"
            typer.echo(line)
        done += 1
        if rounds == 0 or done < rounds:
            time.sleep(interval)


archives_app = typer.Typer(
    help="Archives: contracts, authorizations and evidence (R-10.2(g)).", no_args_is_help=True
)


@archives_app.command("search")
@handles_errors
def search(
    resident_id: Annotated[str | None, typer.Option(help="The customer's resident ID.")] = None,
    application: Annotated[int | None, typer.Option(help="Credit application id.")] = None,
    loan: Annotated[int | None, typer.Option(help="Loan id.")] = None,
    contract: Annotated[str | None, typer.Option(help="Contract id (ct-…).")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="From date, YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="To date, YYYY-MM-DD.")] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--type", help="contract, authorization, evidence.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many items.")] = 100,
) -> None:
    """Find archived records by customer, application, loan, contract, date and type (JSON
    lines); the search is recorded in the audit log."""
    from datetime import date

    from puhui.domain.errors import ValidationError
    from puhui.services.archives import KINDS, search_archives

    def day(text: str | None, name: str) -> date | None:
        try:
            return None if text is None else date.fromisoformat(text)
        except ValueError:
            raise ValidationError(
                f"{name} must be a date YYYY-MM-DD", code="archives.invalid_date"
            ) from None

    items = search_archives(
        _ctx(),
        SYSTEM,
        resident_id=resident_id,
        application_id=application,
        loan_id=loan,
        contract_id=contract,
        date_from=day(date_from, "--from"),
        date_to=day(date_to, "--to"),
        kinds=kind or KINDS,
        limit=limit,
    )
    for i in items:
        line = {
            "kind": i.kind,
            "reference": i.reference,
            "type": i.type,
            "status": i.status,
            "at": i.at.isoformat(),
            "digest": i.digest,
            "links": i.links,
        }
        typer.echo(json.dumps(line, ensure_ascii=False, default=str))
