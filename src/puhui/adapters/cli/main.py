"""``puhui``: operate the platform from a shell. Honours ``PUHUI_DATABASE_URL``.

Errors print one readable line (``error [code]: message``) to stderr and exit with status 2.
Commands run as the operator of the machine (the ``system`` principal) and are audited as such.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from puhui.adapters.cli.errors import handles_errors
from puhui.bootstrap import Platform, build_platform
from puhui.domain.errors import ValidationError
from puhui.domain.identity import SYSTEM
from puhui.settings import Settings

app = typer.Typer(
    help="Puhui (普惠) digital lending platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Staff users of the console.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data for development.", no_args_is_help=True)
data_app = typer.Typer(help="Data export.", no_args_is_help=True)
date_app = typer.Typer(help="The platform business date.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys for personal-data encryption.", no_args_is_help=True)
ledger_app = typer.Typer(help="General ledger and portfolio reports.", no_args_is_help=True)
for sub, name in (
    (ledger_app, "ledger"),
    (db_app, "db"),
    (users_app, "users"),
    (audit_app, "audit"),
    (demo_app, "demo"),
    (data_app, "data"),
    (date_app, "business-date"),
    (keys_app, "keys"),
):
    app.add_typer(sub, name=name)

F = TypeVar("F", bound=Callable[..., Any])


def _platform() -> Platform:
    return build_platform(Settings())


@db_app.command("upgrade")
@handles_errors
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from puhui.adapters.db.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision} ({settings.database_url.split('@')[-1]})")


@app.command("serve")
@handles_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API, console and portal with Uvicorn."""
    import uvicorn

    uvicorn.run(
        "puhui.adapters.web.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


@users_app.command("create")
@handles_errors
def users_create(
    username: Annotated[str, typer.Option(help="Login name (a-z, 0-9, . _ -).")],
    role: Annotated[list[str], typer.Option(help="Role; repeat for several.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the console.")] = "",
    post: Annotated[str, typer.Option(help="Job post (岗位).")] = "",
    branch: Annotated[str, typer.Option(help="Branch code and name.")] = "",
    password_env: Annotated[
        str, typer.Option(help="Read the password from this variable instead of prompting.")
    ] = "",
) -> None:
    """Create a console user (as the system operator)."""
    from puhui.services.identity import CreateStaffUser, create_staff_user

    password = os.environ.get(password_env, "") if password_env else ""
    if not password:
        if not sys.stdin.isatty():
            raise ValidationError(
                "no password: set --password-env or run in a terminal", code="identity.no_password"
            )
        password = getpass.getpass("Password: ")
    created = create_staff_user(
        _platform().ctx,
        SYSTEM,
        CreateStaffUser(username, display_name or username, password, tuple(role), post, branch),
    )
    assert created.user is not None
    typer.echo(
        f"created staff user {created.user.username} (id {created.user.id}) with roles "
        f"{', '.join(sorted(r.value for r in created.user.roles))}"
    )


@users_app.command("list")
@handles_errors
def users_list() -> None:
    """List console users."""
    from puhui.services.identity import list_staff_users

    for u in list_staff_users(_platform().ctx, SYSTEM):
        typer.echo(
            f"{u.id}\t{u.username}\t{','.join(sorted(r.value for r in u.roles))}\t"
            f"{u.post}\t{'active' if u.active else 'disabled'}"
        )


@audit_app.command("verify")
@handles_errors
def audit_verify() -> None:
    """Recompute the audit hash chain; exit 1 naming the first bad record if it is broken."""
    from puhui.services.audit import verify_audit_chain

    verdict = verify_audit_chain(_platform().ctx, SYSTEM)
    if verdict.ok:
        typer.echo(f"audit chain OK: {verdict.checked} records verified")
        return
    typer.echo(f"audit chain BROKEN: {verdict.message}", err=True)
    raise typer.Exit(1)


@demo_app.command("load")
@handles_errors
def demo_load() -> None:
    """Load demo staff users and customers (idempotent; development only)."""
    from puhui.services.demo import DEMO_PASSWORD, DEMO_USERS, load_demo

    platform = _platform()
    result = load_demo(platform.ctx, environment=platform.settings.environment)
    typer.echo(
        f"demo data loaded: {len(result.users_created)} new users, "
        f"{result.customers_created} new customers, {result.decisions_made} credit decisions"
    )
    typer.echo(f"demo logins (console, password {DEMO_PASSWORD}):")
    for u in DEMO_USERS:
        typer.echo(f"  {u.username:<10} {u.role.value}")


@data_app.command("export")
@handles_errors
def data_export(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("var/export"),
    deidentified: Annotated[
        bool, typer.Option("--deidentified", help="Pseudonymise personal fields (required).")
    ] = False,
) -> None:
    """Export a de-identified copy of customers and users for development and test."""
    from puhui.services.export import export_deidentified

    if not deidentified:
        raise ValidationError(
            "only de-identified exports exist: pass --deidentified",
            code="export.identified_refused",
        )
    summary = export_deidentified(_platform().ctx, SYSTEM, out)
    for name, n in summary.files.items():
        typer.echo(f"{out / name}: {n} rows")


@date_app.command("show")
@handles_errors
def date_show() -> None:
    """Print the business date."""
    from puhui.services.platform import get_business_date

    typer.echo(get_business_date(_platform().ctx).isoformat())


@date_app.command("set")
@handles_errors
def date_set(
    new_date: Annotated[str, typer.Argument(help="YYYY-MM-DD")],
    allow_backwards: bool = False,
) -> None:
    """Set the business date (forward only unless --allow-backwards)."""
    from puhui.services.platform import set_business_date

    try:
        parsed = date.fromisoformat(new_date)
    except ValueError:
        raise ValidationError(
            f"not a date (YYYY-MM-DD): {new_date!r}", code="business_date.invalid"
        ) from None
    set_business_date(_platform().ctx, SYSTEM, parsed, allow_backwards=allow_backwards)
    typer.echo(f"business date is now {parsed.isoformat()}")


@keys_app.command("generate")
@handles_errors
def keys_generate(algorithm: str = "SM4-GCM") -> None:
    """Print new secrets for PUHUI_SECRET_KEY, PUHUI_FIELD_KEYS and PUHUI_INDEX_KEY."""
    import base64
    import secrets as pysecrets

    size = 16 if algorithm == "SM4-GCM" else 32
    key_id = "k" + pysecrets.token_hex(3)
    typer.echo(f"PUHUI_SECRET_KEY={pysecrets.token_urlsafe(48)}")
    typer.echo(
        f"PUHUI_FIELD_KEYS={key_id}:{base64.b64encode(pysecrets.token_bytes(size)).decode()}"
        f";active={key_id}"
    )
    typer.echo(f"PUHUI_FIELD_ALGORITHM={algorithm}")
    typer.echo(f"PUHUI_INDEX_KEY={base64.b64encode(pysecrets.token_bytes(32)).decode()}")


@keys_app.command("rotate")
@handles_errors
def keys_rotate() -> None:
    """Re-encrypt personal fields still under an old key with the active key."""
    platform = _platform()
    from puhui.services.audit import record

    with platform.ctx.uow() as uow:
        changed = uow.customers.rotate_keys()
        record(
            platform.ctx,
            uow,
            actor=SYSTEM,
            action="keys.rotate",
            target=f"key:{platform.keyring.active_key_id}",
            details={"rows": changed},
        )
        uow.commit()
    typer.echo(f"re-encrypted {changed} customer rows with key {platform.keyring.active_key_id}")


@app.command("eod")
@handles_errors
def eod(
    business_date: Annotated[
        str, typer.Option("--date", help="Business date to close, YYYY-MM-DD.")
    ],
    partition_size: Annotated[
        int, typer.Option(help="Loans per partition (one transaction each).")
    ] = 100_000,
) -> None:
    """End of day: accrue interest and penalty, age, classify and post, for every open loan
    and credit line. Idempotent and resumable: re-running a date only finishes what is missing."""
    from puhui.adapters.batch.eod import partitions, run_eod
    from puhui.domain.lending.eod import class_of_rank
    from puhui.services.eod import close_by_replay, pending_count

    try:
        day = date.fromisoformat(business_date)
    except ValueError:
        raise ValidationError(
            f"not a date (YYYY-MM-DD): {business_date!r}", code="eod.invalid_date"
        ) from None
    if partition_size < 1:
        raise ValidationError("partition size must be positive", code="eod.invalid_partition")
    platform = _platform()
    with platform.engine.connect() as conn:
        total = len(partitions(conn, partition_size))
    with typer.progressbar(length=max(total, 1), label=f"EOD {day}", file=sys.stderr) as bar:
        summary = run_eod(platform.engine, day, partition_size=partition_size, progress=bar.update)
    replayed = pending_count(platform.ctx, day)
    with typer.progressbar(
        length=max(replayed, 1), label=f"EOD {day} by replay", file=sys.stderr
    ) as bar:
        replay = close_by_replay(platform.ctx, day, progress=bar.update)
    from puhui.services.audit import record

    with platform.ctx.uow() as uow:
        record(
            platform.ctx,
            uow,
            actor=SYSTEM,
            action="eod.run",
            target=f"business_date:{day}",
            details={
                "loans": summary.loans,
                "partitions_run": summary.partitions_run,
                "interest_minor": summary.interest_minor,
                "penalty_minor": summary.penalty_minor,
                "replayed_loans": replay.loans,
                "credit_lines": replay.lines,
                "replay_recognised": {k: str(v) for k, v in replay.recognised.items()},
                "failures": [f"{target} {code}" for target, code in replay.failures],
            },
        )
        uow.commit()
    typer.echo(
        f"EOD {day}: {summary.loans} loans in {summary.partitions_run} partitions "
        f"({summary.partitions_skipped} already done) in {summary.seconds:.1f}s; "
        f"interest {summary.interest_minor / 100:,.2f}, penalty {summary.penalty_minor / 100:,.2f}"
    )
    for rank, count in sorted(summary.by_class.items()):
        loan_class = class_of_rank(rank)
        typer.echo(f"  {loan_class.label_zh} {loan_class.label_en}: {count}")
    recognised = ", ".join(f"{k} {v:,.2f}" for k, v in replay.recognised.items())
    typer.echo(
        f"by replay: {replay.loans} loans, {replay.lines} credit lines "
        f"({replay.skipped_lines} already done); {recognised}"
    )
    if replay.failures:
        for target, code in replay.failures:
            typer.echo(f"  not closed: {target} ({code})", err=True)
        raise typer.Exit(1)


@ledger_app.command("trial-balance")
@handles_errors
def trial_balance() -> None:
    """Debit and credit totals per account of every posting; checks that they balance."""
    from puhui.services.servicing import trial_balance as tb

    rows = tb(_platform().ctx, SYSTEM)
    debit = credit = 0
    for account, d, c in rows:
        typer.echo(
            f"{account.code}  {account.label_zh:<14} {d / 100:>18,.2f} {c / 100:>18,.2f} "
            f"{(d - c) / 100:>18,.2f}"
        )
        debit, credit = debit + d, credit + c
    typer.echo(
        f"{'total':<22} {debit / 100:>18,.2f} {credit / 100:>18,.2f}  "
        f"{'balanced' if debit == credit else 'NOT BALANCED'}"
    )
    if debit != credit:
        raise typer.Exit(1)


@ledger_app.command("reconcile")
@handles_errors
def reconcile() -> None:
    """Loan sub-ledger against the general ledger; exit 1 when they differ."""
    from puhui.services.servicing import reconcile as run

    rows = run(_platform().ctx, SYSTEM)
    for r in rows:
        typer.echo(
            f"{r.account.code}  {r.account.label_zh:<10} sub-ledger "
            f"{r.subledger_minor / 100:>18,.2f}  ledger {r.gl_minor / 100:>18,.2f}  "
            f"difference {r.difference_minor / 100:>12,.2f}"
        )
    if any(r.difference_minor for r in rows):
        typer.echo("NOT RECONCILED", err=True)
        raise typer.Exit(1)
    typer.echo("reconciled")


@ledger_app.command("portfolio")
@handles_errors
def portfolio() -> None:
    """Open loans by five-category class (五级分类): count, principal, overdue principal."""
    from puhui.domain.lending.eod import class_of_rank
    from puhui.services.servicing import portfolio_by_class

    for row in portfolio_by_class(_platform().ctx, SYSTEM):
        loan_class = class_of_rank(row.class_code)
        typer.echo(
            f"{loan_class.label_zh} {loan_class.label_en:<16} {row.loans:>9} loans "
            f"{row.principal_minor / 100:>18,.2f} {row.overdue_minor / 100:>16,.2f}"
        )


def _register_loan_commands() -> None:
    from puhui.adapters.cli import servicing
    from puhui.adapters.cli.loan import loan_app

    servicing.register(loan_app)
    app.add_typer(loan_app, name="loan")
    from puhui.adapters.cli import decisions

    decisions.register(app)
    from puhui.adapters.cli.evidence import archives_app, evidence_app

    app.add_typer(evidence_app, name="evidence")
    app.add_typer(archives_app, name="archives")
    from puhui.adapters.cli.fraud import fraud_app

    app.add_typer(fraud_app, name="fraud")


_register_loan_commands()


if __name__ == "__main__":  # pragma: no cover
    app()
