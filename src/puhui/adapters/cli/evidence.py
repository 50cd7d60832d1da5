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
