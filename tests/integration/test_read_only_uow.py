"""A unit of work opened read-only takes no write lock on SQLite (readers never wait for a
writer, nor make one wait) and refuses to commit; on PostgreSQL it is an ordinary transaction."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from puhui.adapters.db import tables as t
from puhui.bootstrap import Platform
from puhui.domain.identity import SYSTEM
from puhui.services.platform import set_business_date


def test_a_reader_does_not_block_a_writer(platform: Platform) -> None:
    assert platform.ctx.read_only_uow is not None
    with platform.ctx.read_only_uow() as reader:
        reader.connection.execute(sa.select(sa.func.count()).select_from(t.audit_log)).one()
        started = time.perf_counter()
        # a writer commits while the reader's transaction is open
        from datetime import date

        set_business_date(platform.ctx, SYSTEM, date(2026, 5, 1), allow_backwards=True)
        assert time.perf_counter() - started < 5
        with pytest.raises(RuntimeError):
            reader.commit()
