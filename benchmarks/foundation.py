"""Foundation benchmarks: audit chain, field encryption, password hashing, API latency.

Run: ``.venv/bin/python benchmarks/foundation.py`` (or ``make bench``). Prints a table; the
figures in docs/performance.md come from it. Ratios are taken against a baseline measured in
the same run, because this machine is shared and noisy.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from puhui.adapters.crypto.fieldcrypt import FieldAlgorithm, FieldCipher, Keyring
from puhui.adapters.security.passwords import Argon2PasswordHasher
from puhui.domain.audit import AuditEntry, HashAlgorithm, next_record, verify_chain


def rate(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def best_of(k: int, fn: Callable[[], float]) -> float:
    return max(fn() for _ in range(k))


def bench_audit_chain(n: int = 50_000) -> list[tuple[str, str]]:
    rows = []
    entry = AuditEntry(
        actor="staff:officer",
        action="customers.read",
        target="customer:1",
        result="ok",
        request_id="r1",
        details={"fields": ["phone"]},
        occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
    )
    results = {}
    for algorithm in (HashAlgorithm.SHA256, HashAlgorithm.SM3):
        records = []
        prev = None
        start = time.perf_counter()
        for _ in range(n):
            prev = next_record(entry, prev, algorithm)
            records.append(prev)
        seal_rate = n / (time.perf_counter() - start)
        start = time.perf_counter()
        verdict = verify_chain(iter(records))
        verify_rate = n / (time.perf_counter() - start)
        assert verdict.ok
        results[algorithm] = (seal_rate, verify_rate)
        rows.append((f"audit seal ({algorithm.value}), in memory", f"{seal_rate:,.0f} records/s"))
        rows.append(
            (f"audit verify ({algorithm.value}), in memory", f"{verify_rate:,.0f} records/s")
        )
    ratio = results[HashAlgorithm.SM3][1] / results[HashAlgorithm.SHA256][1]
    rows.append(("audit verify SM3 / SHA-256", f"{ratio:.2f}x"))
    return rows


def bench_audit_service(n: int = 2_000) -> list[tuple[str, str]]:
    """Appends through the real service and unit of work on SQLite (one commit each)."""
    from puhui.adapters.db.migrate import upgrade
    from puhui.bootstrap import build_platform
    from puhui.domain.identity import SYSTEM
    from puhui.services.audit import record, verify_audit_chain
    from puhui.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        platform = build_platform(
            Settings(environment="test", database_url=url, sms_log_path=f"{tmp}/sms.log")
        )
        start = time.perf_counter()
        for i in range(n):
            with platform.ctx.uow() as uow:
                record(platform.ctx, uow, actor=SYSTEM, action="bench", target=f"t:{i}")
                uow.commit()
        append = n / (time.perf_counter() - start)
        start = time.perf_counter()
        verdict = verify_audit_chain(platform.ctx, SYSTEM)
        verify = verdict.checked / (time.perf_counter() - start)
        assert verdict.ok and verdict.checked == n
        platform.engine.dispose()
    return [
        ("audit append via service, SQLite (commit each)", f"{append:,.0f} records/s"),
        ("audit verify via service, SQLite", f"{verify:,.0f} records/s"),
    ]


def bench_field_crypto(n: int = 20_000) -> list[tuple[str, str]]:
    rows = []
    rates = {}
    for algorithm in (FieldAlgorithm.AES_256_GCM, FieldAlgorithm.SM4_GCM):
        cipher = FieldCipher(Keyring.generate(algorithm))
        token = cipher.encrypt("330106198503140213", context="customer.id_number")

        def enc(c: FieldCipher = cipher) -> object:
            return c.encrypt("330106198503140213", context="customer.id_number")

        def dec(c: FieldCipher = cipher, t: str = token) -> object:
            return c.decrypt(t, context="customer.id_number")

        e = best_of(3, lambda f=enc: rate(f, n))  # type: ignore[misc]
        d = best_of(3, lambda f=dec: rate(f, n))  # type: ignore[misc]
        rates[algorithm] = (e, d)
        rows.append((f"field encrypt {algorithm.value} (18-char ID)", f"{e:,.0f} /s"))
        rows.append((f"field decrypt {algorithm.value}", f"{d:,.0f} /s"))
    aes, sm4 = rates[FieldAlgorithm.AES_256_GCM], rates[FieldAlgorithm.SM4_GCM]
    rows.append(("field decrypt SM4-GCM / AES-256-GCM", f"{sm4[1] / aes[1]:.2f}x"))
    bi = FieldCipher(Keyring.generate(FieldAlgorithm.SM4_GCM))
    r = best_of(3, lambda: rate(lambda: bi.blind_index("13800138001", context="c.phone"), n))
    rows.append(("blind index HMAC-SM3", f"{r:,.0f} /s"))
    return rows


def bench_passwords() -> list[tuple[str, str]]:
    hasher = Argon2PasswordHasher()
    stored = hasher.hash("Correct-Horse-42")
    times = []
    for _ in range(5):
        start = time.perf_counter()
        hasher.verify(stored, "Correct-Horse-42")
        times.append(time.perf_counter() - start)
    return [("argon2id verify (t=3, m=64 MiB, p=2)", f"{statistics.median(times) * 1000:.0f} ms")]


def bench_api(n: int = 1_000) -> list[tuple[str, str]]:
    """Latency through the ASGI app (in-process HTTP): healthz is the baseline."""
    import logging

    from fastapi.testclient import TestClient

    from puhui.adapters.db.migrate import upgrade
    from puhui.adapters.web.app import create_app
    from puhui.bootstrap import build_platform
    from puhui.services.demo import DEMO_PASSWORD, load_demo
    from puhui.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/api.db"
        upgrade(url)
        platform = build_platform(
            Settings(
                environment="test",
                database_url=url,
                sms_log_path=f"{tmp}/sms.log",
                log_level="ERROR",
            )
        )
        load_demo(platform.ctx, environment="test")
        logging.getLogger("puhui").setLevel(logging.ERROR)
        client = TestClient(create_app(platform))
        logging.getLogger("puhui").setLevel(logging.ERROR)
        token = client.post(
            "/api/v1/auth/login", json={"username": "officer", "password": DEMO_PASSWORD}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        def lat(path: str, **kw: object) -> list[float]:
            out = []
            for _ in range(n):
                start = time.perf_counter()
                r = client.get(path, **kw)  # type: ignore[arg-type]
                out.append(time.perf_counter() - start)
                assert r.status_code == 200
            return sorted(out)

        base = lat("/healthz")
        read = lat("/api/v1/customers/1", headers=headers)
        client.close()
        platform.engine.dispose()

    def pct(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000

    return [
        ("GET /healthz p50 / p99 (baseline)", f"{pct(base, 0.5):.2f} / {pct(base, 0.99):.2f} ms"),
        (
            "GET /api/v1/customers/{id} p50 / p99 (session, decrypt 3 fields, access log, commit)",
            f"{pct(read, 0.5):.2f} / {pct(read, 0.99):.2f} ms",
        ),
        ("customer read / healthz (p50)", f"{pct(read, 0.5) / pct(base, 0.5):.1f}x"),
    ]


def main() -> None:
    rows: list[tuple[str, str]] = []
    for bench in (
        bench_audit_chain,
        bench_audit_service,
        bench_field_crypto,
        bench_passwords,
        bench_api,
    ):
        rows.extend(bench())
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  result")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
