"""`exchange push`: the §6 records posted to a receiver in batches, exactly once per target.

Each target (`--target NAME`, default the URL) has a stored cursor (`hf_exchange_cursor`): the id of
the last outbox event whose records the target acknowledged. A push reads the next `batch` outbox
events after the cursor, posts their records as one JSON document::

    {"target": NAME, "after": 120, "cursor": 220, "records": [{"set": "up_pro_process", "row_guid": …}, …]}

and moves the cursor to the batch's last event only after a 2xx answer, in its own transaction.
A batch is posted again until it is acknowledged: a transport error, a timeout, HTTP 408, 429 or 5xx
is retried with exponential backoff and jitter (`backoff · 2^attempt`, capped at `max_backoff`, times
a random factor in [0.5, 1)); after `retries` failed attempts the push stops with exit 1, the cursor where it was. Any
other answer (a 4xx: the receiver refuses the batch) stops at once, exit 1. A push killed between
the receiver's answer and the cursor's commit posts that batch again next time; the receiver keeps
each record once by its `row_guid` (its contract, docs/exchange.md). Events that give no record
move the cursor without a request. Each cursor move is an audit event `exchange.delivered` (target,
outbox range, record count) by the actor, who must be an admin (§8, access.py).

Logs and error messages name the target, the batch's outbox range, counts and HTTP statuses, never
a record's content (the 受理 set may carry the applicant's name when `--applicant` is given).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select, update

from ..db.models import ExchangeCursorRow
from ..errors import ConfigError, DeliveryError
from .access import OPERATION, authorize
from .export import pages

__all__ = ["PushResult", "Pusher", "cursors", "stored_cursor"]

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429})


@dataclass
class PushResult:
    """What a push delivered: the target, its cursor before and after, records and requests."""

    target: str
    url: str
    before: int
    cursor: int
    records: int = 0
    batches: int = 0
    attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "url": self.url,
            "before": self.before,
            "cursor": self.cursor,
            "records": self.records,
            "batches": self.batches,
            "attempts": self.attempts,
        }


def stored_cursor(session: Any, target: str) -> int:
    """The target's cursor (0 before its first delivery)."""
    row = session.get(ExchangeCursorRow, target)
    return 0 if row is None else int(row.cursor)


class Pusher:
    """Delivers the records of one engine's outbox to one target (one push command)."""

    def __init__(
        self,
        context: Any,  # engine.context.EngineContext
        url: str,
        *,
        target: str | None = None,
        batch: int = 100,
        retries: int = 5,
        timeout: float = 10.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        applicant: bool = False,
        actor: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"--url {url!r} 不是 http(s) 地址", hint="请给出接收方的 http:// 或 https:// 地址"
            )
        if batch < 1 or retries < 1 or timeout <= 0 or backoff < 0:
            raise ConfigError("--batch 和 --retries 须不小于 1，--timeout 须大于 0，--backoff 须不小于 0")
        self.context = context
        self.url = url
        self.target = target or url
        self.batch = batch
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.applicant = applicant
        self.actor = actor
        self._sleep = sleep
        self._jitter = jitter
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def run(self) -> PushResult:
        """Deliver every record after the target's cursor, batch after batch, until none is left."""
        try:
            authorize(self.context, self.actor)
        except BaseException:
            self.close()
            raise
        with self.context.read() as session:
            before = stored_cursor(session, self.target)
        result = PushResult(target=self.target, url=self.url, before=before, cursor=before)
        try:
            while True:
                with self.context.read() as session:
                    cursor = stored_cursor(session, self.target)
                    found = list(
                        pages(
                            session, after=cursor, page=self.batch, limit=self.batch, applicant=self.applicant
                        )
                    )
                    if not found:
                        break
                    last = found[-1][0]
                    records = [{"set": r.data_set.table, **r.as_dict()} for _, batch in found for r in batch]
                if records:
                    result.attempts += self._post(
                        {"target": self.target, "after": cursor, "cursor": last, "records": records},
                        cursor,
                        last,
                    )
                    result.batches += 1
                self._advance(cursor, last, len(records))
                result.cursor, result.records = last, result.records + len(records)
        finally:
            self.close()
        return result

    def _post(self, body: dict[str, Any], after: int, last: int) -> int:
        """Post one batch until a 2xx answer; the number of attempts it took."""
        what = f"target {self.target}: batch of outbox events {after + 1}–{last} ({len(body['records'])} record(s))"
        batch = f"接收方 {self.target}：发件箱事件 {after + 1}–{last} 这一批（{len(body['records'])} 条记录）"
        problem = ""
        reason = ""
        for attempt in range(self.retries):
            if attempt:
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * (
                    0.5 + 0.5 * self._jitter()
                )
                log.info("exchange push %s: attempt %d after %.2fs (%s)", what, attempt + 1, delay, problem)
                self._sleep(delay)
            try:
                answer = self._client.post(self.url, json=body, headers={"X-Batch-Id": f"{after}-{last}"})
            except httpx.TimeoutException:
                problem, reason = "timed out", "超时"
                continue
            except httpx.TransportError as exc:
                problem = f"not reachable ({type(exc).__name__})"
                reason = f"无法连接（{type(exc).__name__}）"
                continue
            if answer.is_success:
                log.info("exchange push %s: delivered (HTTP %d)", what, answer.status_code)
                return attempt + 1
            problem = reason = f"HTTP {answer.status_code}"
            if answer.status_code < 500 and answer.status_code not in RETRY_STATUSES:
                raise DeliveryError(
                    f"{batch}被接收方拒收（HTTP {answer.status_code}）；游标仍停在 {after}",
                    hint="检查 --url 以及接收方的要求（docs/exchange.md），然后重新推送",
                )
        raise DeliveryError(
            f"{batch}尝试 {self.retries} 次仍未送达，最后一次：{reason}；游标仍停在 {after}",
            hint="接收方恢复应答后重新推送（不会重复发送：每个 row_guid 接收方只保留一次）",
        )

    def _advance(self, after: int, last: int, records: int) -> None:
        """Move the target's cursor from `after` to `last` (refused if another push moved it meanwhile)."""
        now = self.context.now()
        with self.context.write() as tx:
            self.context.authority.check(tx, self.actor, OPERATION)  # the role the audit event names
            tx.journal.record(
                "exchange.delivered",
                at=now,
                actor=self.actor,
                detail={"target": self.target, "after": after, "cursor": last, "records": records},
            )
            session = tx.session
            row = session.get(ExchangeCursorRow, self.target)
            if row is None:
                session.add(
                    ExchangeCursorRow(target=self.target, cursor=last, records=records, updated_at=now)
                )
                return
            moved = session.execute(
                update(ExchangeCursorRow)
                .where(ExchangeCursorRow.target == self.target, ExchangeCursorRow.cursor == after)
                .values(cursor=last, records=ExchangeCursorRow.records + records, updated_at=now),
                execution_options={"synchronize_session": False},
            )
            if getattr(moved, "rowcount", 1) != 1:
                raise DeliveryError(
                    f"接收方 {self.target}：其间另一次推送已把游标移过 {after}",
                    hint="同一接收方同一时间只运行一次推送",
                )


def cursors(context: Any) -> list[dict[str, Any]]:
    """Every target's cursor (for `exchange status`)."""
    with context.read() as session:
        rows = session.scalars(select(ExchangeCursorRow).order_by(ExchangeCursorRow.target))
        return [
            {"target": r.target, "cursor": r.cursor, "records": r.records, "updated_at": _iso(r.updated_at)}
            for r in rows
        ]


def _iso(value: datetime) -> str | None:
    from ..clock.instants import local_iso

    return local_iso(value)
