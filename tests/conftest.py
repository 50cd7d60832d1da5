"""Shared test configuration: the per-backend summary of the integration tier."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings

# The machine running the suite is shared: never fail a property on timing alone.
settings.register_profile(
    "puhui", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("puhui")

_outcomes: Counter[tuple[str, str]] = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/integration" not in report.nodeid.replace("\\", "/"):
        return
    backend = (
        "postgresql"
        if "[postgresql" in report.nodeid
        else ("sqlite" if "[sqlite" in report.nodeid else None)
    )
    if backend is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _outcomes[(backend, report.outcome)] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _outcomes:
        return
    terminalreporter.section("integration tier by database")
    for backend in ("sqlite", "postgresql"):
        p, f, s = (_outcomes[(backend, k)] for k in ("passed", "failed", "skipped"))
        terminalreporter.write_line(
            f"integration tier on {backend:<10}: passed {p}, failed {f}, skipped {s}"
        )
    if os.environ.get("CI") == "true" and _outcomes[("postgresql", "passed")] == 0:
        terminalreporter.write_line("ERROR: no integration test passed on PostgreSQL under CI")
