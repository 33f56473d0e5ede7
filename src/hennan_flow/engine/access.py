"""Access for the HTTP service (DESIGN §11): API keys of service accounts and Idempotency-Key records.

An API key is `hfk_<id>_<secret>`: `id` names the row, the 32-byte random secret is stored only as
its SHA-256, so the database never holds a usable key. A key acts as its directory user; §8 applies
to it unchanged. Creating and revoking one is an admin operation (`apikey`), recorded as an event.

An Idempotency-Key record keeps, per user and key, the SHA-256 of the request that first used it and
the response it got: a retry with the same request gets that response again, another request with
the same key is a conflict.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..clock.instants import as_utc
from ..db.models import ApiKeyRow, IdempotencyRow
from ..errors import ConflictError, InputError, NotFoundError
from .context import EngineContext

__all__ = ["ApiKey", "ApiKeys", "Idempotency", "StoredResponse"]

_PREFIX = "hfk_"


@dataclass(frozen=True)
class ApiKey:
    """A stored API key (never its secret)."""

    id: str
    user: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _key_of(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        user=row.user_id,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
    )


class ApiKeys:
    """Create, list, revoke and resolve API keys (`engine.api_keys`)."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    def create(self, user: str, *, actor: str | None = None) -> tuple[ApiKey, str]:
        """A new key for directory user `user`: the stored record and the key (shown only now)."""
        ctx = self._ctx
        with ctx.write() as tx:
            ctx.authority.check(tx, actor, "apikey")
            directory = ctx.authority.directory(tx.raw)
            if directory is not None and directory.user(user) is None:
                raise NotFoundError(
                    f"{user} 不是部门与人员目录 {directory.version} 中的用户",
                    hint="查看用户：hennan-flow directory show",
                )
            now = ctx.now()
            key_id = secrets.token_hex(8)
            secret = secrets.token_urlsafe(32)
            row = ApiKeyRow(
                id=key_id, user_id=user, secret_sha256=_digest(secret), created_at=now, created_by=actor
            )
            tx.session.add(row)
            tx.session.flush()
            tx.journal.record("apikey.created", actor=actor, at=now, detail={"id": key_id, "user": user})
            return _key_of(row), f"{_PREFIX}{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        """Every key, oldest first (revoked ones too)."""
        with self._ctx.read() as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id))
            return [_key_of(r) for r in rows]

    def revoke(self, key_id: str, *, actor: str | None = None) -> ApiKey:
        """The key stops working at once; its record stays."""
        ctx = self._ctx
        with ctx.write() as tx:
            ctx.authority.check(tx, actor, "apikey")
            row = tx.session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(
                    f"没有 API 密钥 {key_id!r}", hint="查看 API 密钥：hennan-flow apikey list"
                )
            if row.revoked_at is None:
                now = ctx.now()
                row.revoked_at = now
                tx.journal.record(
                    "apikey.revoked", actor=actor, at=now, detail={"id": key_id, "user": row.user_id}
                )
            tx.session.flush()
            return _key_of(row)

    def user_of(self, key: str) -> str | None:
        """The directory user a presented key acts as, or None (unknown, malformed or revoked)."""
        if not key.startswith(_PREFIX) or len(key) > 200:
            return None
        key_id, sep, secret = key[len(_PREFIX) :].partition("_")
        if not sep or not key_id or not secret:
            return None
        # every HTTP request asks: read each time (a revocation holds at once in every process), on
        # the connection kept for such lookups
        row = self._ctx.lookup(
            "SELECT user_id, secret_sha256, revoked_at FROM hf_api_key WHERE id = ?", (key_id,)
        )
        if row is None or row[2] is not None:
            return None
        user_id, stored, _revoked = row
        if not hmac.compare_digest(str(stored), _digest(secret)):
            return None
        return str(user_id)


@dataclass(frozen=True)
class StoredResponse:
    """The first response to a request with an Idempotency-Key."""

    status: int
    body: str


class Idempotency:
    """Idempotency-Key records (`engine.idempotency`)."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    @staticmethod
    def _check(key: str) -> None:
        if not key or len(key) > 255 or not key.isprintable():
            raise InputError("Idempotency-Key 须为 1 到 255 个可打印字符", hint="例如发送一个 UUID")

    def replay(self, user: str, key: str, request_sha256: str) -> StoredResponse | None:
        """The stored response of this key, or None when the key is new; ConflictError when the key
        was first used with another request."""
        self._check(key)
        with self._ctx.read() as session:
            row = session.get(IdempotencyRow, (user, key))
            if row is None:
                return None
            if row.request_sha256 != request_sha256:
                raise ConflictError(
                    f"Idempotency-Key {key!r} 此前已用于另一个请求",
                    hint="新请求请发送新的 Idempotency-Key",
                )
            return StoredResponse(status=row.status, body=row.body)

    def store(self, user: str, key: str, request_sha256: str, status: int, body: str) -> StoredResponse:
        """Keep the response of the first request with this key; when another request stored one
        meanwhile, that one (the first) is returned instead."""
        self._check(key)
        try:
            with self._ctx.write() as tx:
                tx.session.add(
                    IdempotencyRow(
                        user_id=user,
                        key=key,
                        request_sha256=request_sha256,
                        status=status,
                        body=body,
                        created_at=self._ctx.now(),
                    )
                )
                tx.session.flush()
        except IntegrityError:
            first = self.replay(user, key, request_sha256)
            if first is not None:
                return first
        return StoredResponse(status=status, body=body)
