"""E-contract flow benchmark: how long a borrower waits at each step of signing online.

Reproduce (about 1 minute): ``.venv/bin/python benchmarks/contracts.py`` (``--contracts N``,
SQLite in a temporary directory; ``--db-url`` for another database, e.g. the PostgreSQL of
``scripts/with-postgres.sh``).

On a migrated database with a loan officer, ``--contracts`` approved micro-business
applications (sandbox data, consents given) and one verified portal customer per applicant,
each step of ``services.contracts`` is timed call by call, in the order a borrower meets them:

1. **offer** — ``offer_contract``: read the decision, build the schedule and annualized rate,
   render the zh-CN loan contract to PDF, store it encrypted;
2. **signing code** — ``request_signing_code`` (dry-run of the signature, OTP stored, SMS to
   the sandbox log);
3. **sign + seal** — ``sign_contract`` with auto-seal: OTP check, the borrower's SM2 key (made
   on first use), SM2 signature of the SM3 digest, sandbox RFC 3161 time-stamp, status change
   and ``contract_signed`` leaf; then the branch's e-seal the same way (``contract_sealed``);
4. **bundle** — ``contract_evidence`` + the bundle document (tree head signed and notarized
   when needed), then ``verify_bytes`` on it (the independent check).

Baselines in the same run, to read ratios on this shared machine: the PDF rendering alone
(``DocumentRenderer.render_pdf`` on the same variables) and one SM2 signature of a digest
(``SoftwareKeystore.sign_digest``) with one sandbox time-stamp.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1e3:8.1f} ms   p99 {p99 * 1e3:8.1f} ms"


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=20)
    parser.add_argument("--db-url", default="")
    args = parser.parse_args()

    from puhui.adapters.db.engine import make_engine
    from puhui.adapters.db.migrate import upgrade
    from puhui.adapters.evidence_bundle import bundle_document
    from puhui.adapters.providers.datasources import sandbox_resident_id, sandbox_uscc
    from puhui.adapters.verify import dump_bundle, verify_bytes
    from puhui.bootstrap import build_platform
    from puhui.domain.audit import HashAlgorithm
    from puhui.domain.evidence.signatures import KeyPurpose
    from puhui.domain.identifiers import luhn_complete
    from puhui.domain.identity import SYSTEM
    from puhui.services import archives, consents, contracts, customers, decisions
    from puhui.services.platform import set_business_date
    from puhui.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="puhui-contracts-"))
    url = args.db_url or f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    settings = Settings(
        environment="test",
        database_url=url,
        sms_log_path=str(tmp / "sms.log"),
        log_level="WARNING",
    )
    platform = build_platform(settings, engine=make_engine(url))
    ctx = platform.ctx
    set_business_date(ctx, SYSTEM, date(2026, 3, 2), allow_backwards=True)
    card = luhn_complete("621700123456789012")
    steps: dict[str, list[float]] = {"offer": [], "code": [], "sign": [], "bundle": []}
    verify: list[float] = []
    for i in range(args.contracts):
        rid = sandbox_resident_id(100 + i, birth=date(1985, 6, 15))
        phone = f"139{i:08d}"
        for purpose in ("credit_report", "identity_verification", "tax_data", "bank_flows"):
            consents.grant_consent(
                ctx, SYSTEM, {"resident_id": rid, "purpose": purpose, "text_version": "v2026.1"}
            )
        stored = decisions.decide_application(
            ctx,
            SYSTEM,
            {
                "application_id": f"BENCH-CT-{i}",
                "product_code": "MICRO-BIZ",
                "borrower_type": "micro_enterprise",
                "applicant_name": "张三",
                "applicant_resident_id": rid,
                "applicant_mobile": phone,
                "enterprise_uscc": sandbox_uscc("Y00", serial=100 + i),
                "enterprise_name": "北京测试商贸有限公司",
                "requested_amount": "300000.00",
                "requested_term_months": 12,
                "purpose": "working_capital",
                "declared_annual_revenue": "3600000",
                "region_code": "110105",
                "industry_code": "F",
                "guarantee_type": "credit",
                "applied_on": "2026-03-01",
            },
        )
        if stored.status != "approved":
            continue
        customers.request_login_code(ctx, phone)
        session = customers.login_customer(ctx, phone, platform.sms.last_code(phone) or "")
        customer = customers.submit_identity(ctx, session.customer.id, "张三", rid)
        offered, t = _timed(
            lambda s=stored: contracts.offer_contract(
                ctx, SYSTEM, s.application_id, disbursement_account=card
            )
        )
        steps["offer"].append(t)
        cid = offered.contract.contract_id
        _, t = _timed(partial(contracts.request_signing_code, ctx, customer, cid))
        steps["code"].append(t)
        code = platform.sms.last_code(phone) or ""
        _, t = _timed(partial(contracts.sign_contract, ctx, customer, cid, code))
        steps["sign"].append(t)
        parts, t1 = _timed(partial(archives.contract_evidence, ctx, SYSTEM, cid))
        document, t2 = _timed(partial(bundle_document, parts))
        steps["bundle"].append(t1 + t2)
        report, t = _timed(partial(verify_bytes, dump_bundle(document)))
        assert report.exit_code == 0, report.lines()
        verify.append(t)

    setup = ctx.evidence
    renderer_inputs: list[float] = []
    for _ in range(5):
        _, t = _timed(lambda: setup.documents.render_pdf("loan_contract", "zh-CN", _variables()))
        renderer_inputs.append(t)
    key = setup.keys.active_key(KeyPurpose.SEAL, branch=str(setup.lender["branch"]))
    sign_alone: list[float] = []
    for _ in range(20):
        _, t = _timed(
            lambda: setup.tsa.timestamp(
                setup.keys.sign_digest(key.key_id, bytes(32), HashAlgorithm.SM3).signature[:32],
                HashAlgorithm.SHA256,
            )
        )
        sign_alone.append(t)

    db = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(f"e-contract flow on {db}, {len(steps['offer'])} contracts (services, no HTTP)")
    print(f"  offer (schedule, APR, PDF, store)      {_ms(steps['offer'])}")
    print(f"  signing code (OTP, SMS)                {_ms(steps['code'])}")
    print(f"  sign + seal (2 × SM2, 2 × RFC 3161)    {_ms(steps['sign'])}")
    print(f"  evidence bundle export                 {_ms(steps['bundle'])}")
    print(f"  verify the bundle (verify_bytes)       {_ms(verify)}")
    print("baselines, same run")
    print(f"  render the PDF alone                   {_ms(renderer_inputs)}")
    print(f"  one SM2 signature + one time-stamp     {_ms(sign_alone)}")


def _variables() -> dict[str, Any]:
    from tests.unit.test_documents import a_loan_offer

    return a_loan_offer()


if __name__ == "__main__":
    main()
