"""Helpers of ``benchmarks/decision.py``: deterministic applications, database preparation, a
server in a subprocess, and the HTTP load generator (closed and open loop, httpx + asyncio).

Nothing here is imported by the product; the benchmark is the only user.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from puhui.adapters.db.engine import normalize_url
from puhui.adapters.providers.datasources import sandbox_resident_id, sandbox_uscc
from puhui.domain.risk.consent import Consent, ConsentPurpose
from puhui.services.consents import evidence_hash, sources_for

ROOT = Path(__file__).resolve().parents[1]
PUHUI = str(Path(sys.executable).with_name("puhui"))
APPLIED_ON = date(2026, 11, 20)  # every application's date; the business date is set after it
BUSINESS_DATE = date(2026, 11, 23)
TEXT_VERSION = "2026.1"
CREDIT_PURPOSES = tuple(p for p in ConsentPurpose if p is not ConsentPurpose.MARKETING)

# --- deterministic applications ----------------------------------------------------------------

REGIONS = ("110105", "310104", "440305", "330106", "510107", "420106", "320102", "370102")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红"
INDUSTRIES = "ACEFGHIKLMR"
# (product, borrower type, share of applications)
MIX = (
    ("CONSUMER", "consumer", 0.5),
    ("INDIV-BIZ", "individual_business", 0.3),
    ("MICRO-BIZ", "micro_enterprise", 0.2),
)
PERSON_SPECIAL = tuple(range(901, 919))  # 900 is "clean", not adverse
ENTERPRISE_SPECIAL = tuple(f"Y{i:02d}" for i in range(1, 13))


@dataclass(frozen=True)
class Applicant:
    resident_id: str
    name: str
    mobile: str
    region: str
    product: str
    borrower: str
    uscc: str | None
    enterprise_name: str | None
    special: str | None  # the forced sandbox condition, if any (e.g. "903", "Y05")


def applicants(n: int, seed: int, special_share: float) -> list[Applicant]:
    """``n`` distinct applicants: ordinary identities (sequence codes 0-899, enterprise markers
    that are no sandbox marker) and ``special_share`` of special ones (codes 901-918 or USCC
    markers Y01-Y12), all from ``random.Random(seed)``."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Applicant] = []
    weights = [w for *_, w in MIX]
    while len(out) < n:
        product, borrower, _ = rng.choices(MIX, weights)[0]
        region = rng.choice(REGIONS)
        birth = date(1962, 1, 1) + timedelta(days=rng.randrange(365 * 40))
        has_uscc = borrower == "micro_enterprise" or (
            borrower == "individual_business" and rng.random() < 0.5
        )
        special = None
        code = rng.randrange(900)
        marker = f"{rng.randrange(1000):03d}"
        if rng.random() < special_share:
            if has_uscc and rng.random() < 0.4:
                marker = rng.choice(ENTERPRISE_SPECIAL)
                special = marker
            else:
                code = rng.choice(PERSON_SPECIAL)
                special = str(code)
        resident_id = sandbox_resident_id(code, region=region, birth=birth)
        if resident_id in seen:
            continue
        seen.add(resident_id)
        uscc = (
            sandbox_uscc(marker, region=region, serial=rng.randrange(10000)) if has_uscc else None
        )
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
        out.append(
            Applicant(
                resident_id=resident_id,
                name=name,
                mobile=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
                region=region,
                product=product,
                borrower=borrower,
                uscc=uscc,
                enterprise_name=f"{name[0]}氏{rng.choice('商贸科技餐饮建材')}有限公司"
                if uscc
                else None,
                special=special,
            )
        )
    return out


def application(a: Applicant, ref: str, rng: random.Random) -> dict[str, Any]:
    """One application (the JSON form of ``CreditApplication``) by ``a``, id ``ref``."""
    business = a.borrower != "consumer"
    if a.product == "CONSUMER":
        amount, term = rng.choice((5, 10, 20, 30, 50, 80, 100)) * 1000, rng.choice((6, 12, 24))
    elif a.product == "INDIV-BIZ":
        amount, term = rng.choice((50, 100, 200, 300, 500)) * 1000, rng.choice((6, 12, 24))
    else:
        amount, term = rng.choice((100, 300, 500, 1000, 2000)) * 1000, rng.choice((12, 24, 36))
    data: dict[str, Any] = {
        "application_id": ref,
        "product_code": a.product,
        "borrower_type": a.borrower,
        "applicant_name": a.name,
        "applicant_resident_id": a.resident_id,
        "applicant_mobile": a.mobile,
        "requested_amount": f"{amount}.00",
        "requested_term_months": term,
        "purpose": rng.choice(("working_capital", "inventory", "equipment"))
        if business
        else rng.choice(("consumption", "education", "medical")),
        "region_code": a.region,
        "industry_code": rng.choice(INDUSTRIES),
        "guarantee_type": rng.choices(("credit", "guarantee", "mortgage"), (8, 1, 1))[0],
        "applied_on": APPLIED_ON.isoformat(),
        "channel": "bench",
    }
    if a.uscc:
        data["enterprise_uscc"] = a.uscc
        data["enterprise_name"] = a.enterprise_name
    if not business and rng.random() < 0.5:
        data["declared_monthly_income"] = f"{rng.randrange(40, 300) * 100}.00"
    return data


def applications(
    people: Sequence[Applicant], n: int, seed: int, prefix: str
) -> list[dict[str, Any]]:
    """``n`` applications cycling over ``people``; ids ``{prefix}-{i:07d}``."""
    rng = random.Random(seed)
    return [application(people[i % len(people)], f"{prefix}-{i:07d}", rng) for i in range(n)]


def consents_for(
    people: Sequence[Applicant], person_ref: Any, now: datetime
) -> Iterator[tuple[Consent, str]]:
    """Every credit purpose for every applicant (the consent centre's result), with evidence."""
    for k, a in enumerate(people):
        ref = person_ref(a.resident_id)
        for purpose in CREDIT_PURPOSES:
            consent = Consent(
                consent_id=f"cs-bench-{k:06d}-{purpose.value}"[:40],
                customer_ref=ref,
                purpose=purpose,
                scope=sources_for(purpose),
                granted_at=now - timedelta(days=1),
                expires_at=now + timedelta(days=365),
                text_version=TEXT_VERSION,
            )
            yield consent, evidence_hash(consent, "portal", "")


# --- databases -----------------------------------------------------------------------------------


def pg_database(base_url: str, name: str, template: str | None = None) -> str:
    """A fresh PostgreSQL database ``name`` (a copy of ``template`` if given); its URL."""
    admin = sa.create_engine(normalize_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        suffix = f" TEMPLATE {template}" if template else ""
        conn.exec_driver_sql(f"CREATE DATABASE {name}{suffix}")
    admin.dispose()
    return (
        sa.engine.make_url(normalize_url(base_url))
        .set(database=name)
        .render_as_string(hide_password=False)
    )


def copy_database(kind: str, template_url: str, tmp: Path, name: str, base_url: str) -> str:
    """A fresh copy of the prepared template database."""
    if kind == "sqlite":
        source = Path(sa.engine.make_url(template_url).database or "")
        target = tmp / f"{name}.db"
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copy(source, target)
        return f"sqlite:///{target}"
    template = sa.engine.make_url(template_url).database
    return pg_database(base_url, name, template)


# --- server --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(url: str, tmp: Path, log_level: str, src: Path | None = None) -> dict[str, str]:
    """The server's environment; it imports ``puhui`` from this checkout (as the benchmark
    does), not from wherever the virtual environment's editable install points, or from
    ``src`` (another checkout's ``src``, for a comparison)."""
    return {
        **os.environ,
        "PUHUI_ENVIRONMENT": "development",
        "PUHUI_DATABASE_URL": url,
        "PUHUI_SMS_LOG_PATH": str(tmp / "sms.log"),
        "PUHUI_LOG_LEVEL": log_level,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(src or ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p
        ),
    }


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def pids(self) -> list[int]:
        """The server process and its children (uvicorn's workers)."""
        return [self.proc.pid, *children(self.proc.pid)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(
    url: str,
    tmp: Path,
    workers: int,
    *,
    log_level: str = "INFO",
    thread_tokens: int = 0,
    src: Path | None = None,
) -> Server:
    """``puhui serve`` on ``url`` in a subprocess; returns when /healthz answers. With
    ``thread_tokens`` the same app runs through :func:`limited_app` instead."""
    port = free_port()
    log = tmp / f"server-{port}.log"
    env = server_env(url, tmp, log_level, src)
    if thread_tokens:
        cmd = [c.replace("{port}", str(port)) for c in limited_server_argv(workers)]
        env["BENCH_THREAD_TOKENS"] = str(thread_tokens)
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env["PYTHONPATH"]])
    else:
        cmd = [PUHUI, "serve", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.2)
    server = Server(proc, base, log)
    if workers > 1:  # every worker answers only once it has imported the app
        deadline = time.monotonic() + 60
        while len(children(proc.pid)) < workers and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)
    return server


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of the processes (from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server process behind ``url`` if it runs on this machine (the parent of
    our backend), else None."""
    engine = sa.create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            backend = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            stat = Path(f"/proc/{backend}/stat").read_text()
    except (OSError, sa.exc.SQLAlchemyError):
        return None
    finally:
        engine.dispose()
    return int(stat.rsplit(")", 1)[1].split()[1])


def cluster_pids(postmaster: int) -> list[int]:
    """The PostgreSQL server and its backends (their CPU is read, nothing else)."""
    return [postmaster, *children(postmaster)]


# --- load generator ------------------------------------------------------------------------------

Probe = Callable[[], dict[str, float]]  # CPU seconds so far, by process group
_LATENCY = re.compile(rb'"latency_ms":([0-9.]+)')


@dataclass
class LoadResult:
    seconds: float  # the measured window
    latencies: list[float] = field(default_factory=list)  # seconds, completed in the window
    server_ms: list[float] = field(default_factory=list)  # latency_ms the decision reports
    errors: dict[str, int] = field(default_factory=dict)
    late: int = 0  # open loop: sent after their scheduled instant (the client was busy)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds in the window, by probe

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000 if xs else float("nan")

    def server_pct(self, p: float) -> float:
        xs = sorted(self.server_ms)
        return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


class Requests:
    """The request bodies, handed out in order (each application id used once)."""

    def __init__(self, bodies: Sequence[bytes]) -> None:
        self.bodies = bodies
        self.next = 0

    def take(self) -> bytes:
        if self.next >= len(self.bodies):
            raise RuntimeError("out of prepared applications: raise --http-applications")
        body = self.bodies[self.next]
        self.next += 1
        return body


def _clients(base: str, n: int, headers: dict[str, str]) -> list[httpx.AsyncClient]:
    tls = ssl.create_default_context()  # plain HTTP; one context instead of one per client
    return [
        httpx.AsyncClient(
            base_url=base,
            headers=headers,
            verify=tls,
            timeout=60.0,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        for _ in range(n)
    ]


async def _send(
    client: httpx.AsyncClient, method: str, path: str, body: bytes | None, result: LoadResult
) -> bool:
    try:
        if body is None:
            r = await client.request(method, path)
        else:
            r = await client.request(
                method, path, content=body, headers={"content-type": "application/json"}
            )
    except httpx.HTTPError as error:
        key = type(error).__name__
        result.errors[key] = result.errors.get(key, 0) + 1
        return False
    if r.status_code not in (200, 201):
        key = f"HTTP {r.status_code}"
        result.errors[key] = result.errors.get(key, 0) + 1
        if len(result.errors) == 1 and result.errors[key] == 1:
            print(f"  first error: {r.status_code} {r.text[:300]}", file=sys.stderr)
        return False
    found = _LATENCY.search(r.content)
    if found:
        result.server_ms.append(float(found.group(1)))
    return True


async def closed_loop(
    base: str,
    clients: int,
    seconds: float,
    warmup: float,
    headers: dict[str, str],
    requests: Requests | None,
    path: str,
    probe: Probe,
) -> LoadResult:
    """``clients`` clients, each sending its next request as soon as the previous answered.
    Counted: the requests that *complete* inside the window after ``warmup`` (throughput is
    completions per second; a request in flight at either edge belongs to the window it ends
    in). Requests still in flight at the end are awaited, not cancelled, so that the server is
    idle again when the next measurement starts."""
    method = "GET" if requests is None else "POST"
    pool = _clients(base, clients, headers)
    loop = asyncio.get_running_loop()
    start = loop.time()
    window = (start + warmup, start + warmup + seconds)
    result = LoadResult(seconds)
    cpu: list[dict[str, float]] = []

    async def client(c: httpx.AsyncClient) -> None:
        scratch = LoadResult(seconds)
        while loop.time() < window[1]:
            body = None if requests is None else requests.take()
            t0 = loop.time()
            ok = await _send(c, method, path, body, scratch)
            t1 = loop.time()
            if window[0] <= t1 <= window[1]:
                if ok:
                    result.latencies.append(t1 - t0)
                    if scratch.server_ms:
                        result.server_ms.append(scratch.server_ms[-1])
                for k, v in scratch.errors.items():
                    result.errors[k] = result.errors.get(k, 0) + v
            scratch.errors.clear()
            scratch.server_ms.clear()

    async def meter() -> None:
        await asyncio.sleep(warmup)
        cpu.append(probe())
        await asyncio.sleep(seconds)
        cpu.append(probe())

    await asyncio.gather(meter(), *(client(c) for c in pool))
    for c in pool:
        await c.aclose()
    result.cpu = {k: cpu[1][k] - cpu[0][k] for k in cpu[0]}
    return result


async def open_loop(
    base: str,
    clients: int,
    rate: float,
    seconds: float,
    warmup: float,
    headers: dict[str, str],
    requests: Requests,
    path: str,
    seed: int,
    probe: Probe,
) -> LoadResult:
    """Poisson arrivals at ``rate``/s (seeded), request ``i`` sent by client ``i % clients``.
    Latency runs from the *scheduled* arrival, so a client still busy with its previous request
    adds the wait (no coordinated omission); such sends are counted as ``late``. Requests
    scheduled in the window after ``warmup`` are counted."""
    rng = random.Random(seed)
    total = seconds + warmup
    arrivals: list[float] = []
    t = 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= total:
            break
        arrivals.append(t)
    pool = _clients(base, clients, headers)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    result = LoadResult(seconds)
    cpu: list[dict[str, float]] = []

    async def client(k: int, c: httpx.AsyncClient) -> None:
        scratch = LoadResult(seconds)
        for at in arrivals[k::clients]:
            due = start + at
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            measured = at >= warmup
            if delay < -0.001 and measured:
                result.late += 1
            ok = await _send(c, "POST", path, requests.take(), scratch)
            if measured:
                if ok:
                    result.latencies.append(loop.time() - due)
                    if scratch.server_ms:
                        result.server_ms.append(scratch.server_ms[-1])
                for key, v in scratch.errors.items():
                    result.errors[key] = result.errors.get(key, 0) + v
            scratch.errors.clear()
            scratch.server_ms.clear()

    async def meter() -> None:
        await asyncio.sleep(0.2 + warmup)
        cpu.append(probe())
        await asyncio.sleep(seconds)
        cpu.append(probe())

    await asyncio.gather(meter(), *(client(k, c) for k, c in enumerate(pool)))
    for c in pool:
        await c.aclose()
    result.cpu = {k: cpu[1][k] - cpu[0][k] for k in cpu[0]}
    return result


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- profile (py-spy raw samples) ----------------------------------------------------------------

# (category, markers): a sample goes to the first category one of whose markers is in one of its
# frames ("function (path"), so the specific steps come before the request that contains them.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("waiting for a pooled connection (5 + 10 overflow)", ("sqlalchemy/pool/impl.py",)),
    (
        "SQLite writers' turn + `BEGIN IMMEDIATE` (waits for the write lock)",
        ("_sqlite_begin (puhui",),
    ),
    ("pool pre-ping (PostgreSQL)", ("_do_ping_w_event (", "do_ping (sqlalchemy")),
    ("audit record (chain head locked, record appended)", ("record (puhui/services/audit.py",)),
    ("source cache read + decrypt (`risk.cached`)", ("cached (puhui/adapters/db/risk_repository",)),
    (
        "exposure queries (group, consumer, portfolio)",
        ("group_exposure (", "consumer_exposure (", "exposures (puhui", "portfolio_exposure ("),
    ),
    (
        "pure `decide` (variables, rules, score, price, limit, route)",
        ("decide (puhui/domain/risk/decision.py",),
    ),
    ("decision record (canonical JSON + SHA-256)", ("_decision_row (puhui/services/decisions",)),
    ("evidence leaves (Merkle append)", ("append (puhui/adapters/db/evidence_repository",)),
    (
        "writes: cache entries, application, decision; the stored decision built",
        (
            "put_cached",
            "add_application (",
            "add_decision (",
            "as_stored (",
            "get (puhui/adapters/db/risk_r",
        ),
    ),
    (
        "consents, duplicate check, business date",
        ("valid_consents (", "find_application (", "business_date (", "_refs (puhui"),
    ),
    ("collect (providers on a cache miss)", ("collect (puhui/services/datasources.py",)),
    (
        "transactions, other: connect, commit, rollback",
        (
            "__enter__ (puhui/adapters/db/uow.py",
            "commit (puhui/adapters/db/uow.py",
            "__exit__ (puhui/adapters/db/uow.py",
        ),
    ),
    ("parse the application", ("parse_application (puhui",)),
    ("`decide_application`, other", ("decide_application (puhui",)),
    ("authentication (API key lookup; its BEGIN counts above)", ("current_principal (puhui",)),
    (
        "response: `decision_json` + FastAPI serialization",
        ("decision_json (puhui", "serialize_response (", "jsonable_encoder (", "render ("),
    ),
    ("logging (access line)", ("logging/__init__.py",)),
    ("FastAPI / Starlette (routing, dependencies, body)", ("fastapi/", "starlette/")),
    ("thread pool hand-off (anyio, threading)", ("anyio/", "threading.py")),
    ("uvicorn + event loop (HTTP parsing, sockets)", ("uvicorn/", "asyncio/", "uvloop")),
)
_DRIVER = ("do_execute (", "fetchone (", "fetchall (", "do_commit (", "do_rollback (", "psycopg/")


def profile_categories(
    raw: Path, only: tuple[str, ...] = ()
) -> tuple[int, list[tuple[str, float, float]], list[tuple[str, float]]]:
    """From ``py-spy record --format raw``: the samples, the share of each category (and the
    part of it whose innermost frame is in the database driver), and the top innermost
    functions. ``only``: keep the samples one of whose frames contains one of these."""
    counts: dict[str, list[int]] = {name: [0, 0] for name, _ in CATEGORIES}
    counts["other (mostly stacks py-spy read only in part)"] = [0, 0]
    leaves: dict[str, int] = {}
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not n_text.isdigit() or ";" not in stack:
            continue
        n = int(n_text)
        frames = stack.split(";")[1:]  # the first element names the thread
        if only and not any(o in f for f in frames for o in only):
            continue
        total += n
        name = next(
            (c for c, marks in CATEGORIES if any(m in f for f in frames for m in marks)),
            "other (mostly stacks py-spy read only in part)",
        )
        leaf = re.sub(r":\d+\)$", ")", frames[-1])
        counts[name][0] += n
        if any(d in leaf for d in _DRIVER):
            counts[name][1] += n
        leaves[leaf] = leaves.get(leaf, 0) + n
    shares = [(k, v[0] / total, v[1] / total) for k, v in counts.items() if v[0] and total]
    shares.sort(key=lambda x: -x[1])
    top = sorted(leaves.items(), key=lambda kv: -kv[1])[:12]
    return total, shares, [(k, v / total) for k, v in top]


# --- a server with a smaller thread pool (an experiment, not the product's setting) -------------


class _ThreadTokens:
    """ASGI wrapper: sets anyio's default thread limiter (FastAPI runs sync endpoints and
    dependencies there; 40 tokens by default) on the first event it sees."""

    def __init__(self, app: Any, tokens: int) -> None:
        self.app, self.tokens, self.done = app, tokens, False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self.done:
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = self.tokens
            self.done = True
        await self.app(scope, receive, send)


def limited_app() -> Any:
    """``uvicorn --factory _decision_load:limited_app``: the product's app, fewer threads."""
    from puhui.adapters.web.app import create_app

    return _ThreadTokens(create_app(), int(os.environ["BENCH_THREAD_TOKENS"]))


def limited_server_argv(workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", "_decision_load:limited_app",
        "--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers),
        "--no-access-log", "--log-level", "info",
    ]  # fmt: skip
