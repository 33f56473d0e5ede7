"""E-licence (电子证照) and shared-data (在线核验) verification of the materials the audit exempts (R2).

When a step becomes ready, every material of the step whose audit verdict is *exempt by e-licence*
(`eLicense` or `onlineCheck` declared, DESIGN §2–§3) is fetched from the engine's `LicenceProvider`
and the outcome is stored as a check row (`hf_licence_check`)::

    pending       accepted; the provider is asked right after the commit    blocks the result; retry
    verified      the provider found a valid licence                       the step proceeds
    unverified    no provider is configured (as in `make demo`)            the step proceeds
    failed        timeout, 5xx, refused connection, bad answer, no holder  blocks the result; retry
    not_found     the provider knows no such licence                       blocks the result; retry
    invalid       found, but revoked or expired                            blocks the result; retry
    supplied      the material was handed in instead (`material supply`)  the step proceeds

A failure is never recorded as verified. With a provider configured, the step's acceptance commits
with its checks `pending` and the provider is asked right after that commit, before `start_case` /
`complete_task` return (no database lock is held while it answers, least of all the outbox's); the
answers are stored in a transaction of their own. A check left `pending` (the process died in
between) blocks like a failure. `Engine.verify_licences(task_id)` (CLI `hennan-flow material verify
TASK_ID`) fetches the blocking and unverified checks of a step again; handing in the material
(`Engine.supply_material`) also unblocks it.

The provider is configured per engine (`Engine(url, licences=HttpLicenceProvider(...))`); without one
the engine uses `NoProvider`. The HTTP protocol of `HttpLicenceProvider` (JSON over HTTP(S), POST so
that no ID number ends up in a URL or an access log)::

    POST {base_url}/licences/query
    {"type": "居民身份证", "source": "e_license", "holder": "<credit code or ID number>",
     "material": "legal_rep_id", "case": "<case id>"}
    200 {"licence": {"id": "…", "type": "…", "issuer": "…", "valid_until": "2036-01-01", "status": "valid"}}
    404 no such licence                      → LicenceNotFoundError
    429, 5xx, refused connection             → LicenceUnavailableError (retried with backoff)
    no answer within `timeout` seconds       → LicenceTimeoutError (retried with backoff)
    any other 4xx                            → LicenceRejectedError
    a body that is not such JSON             → LicenceProtocolError

Retries: `retries` more attempts after the first, waiting `backoff × 2^n` seconds (capped by
`max_backoff`; a `Retry-After` header in seconds wins when it is shorter than the cap). The holder is
personal data: it is sent in the request body only, never logged, and not kept in the check row.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Final, Protocol, TypedDict, runtime_checkable

from sqlalchemy.orm import Session

from ..bpmn.bundle import Material
from ..clock.instants import as_utc, local_iso
from ..db.service_rows import LicenceCheckRow
from ..errors import ConfigError

__all__ = [
    "BLOCKING_STATES",
    "CHECK_STATES",
    "RETRIED_STATES",
    "HttpLicenceProvider",
    "Licence",
    "LicenceCheck",
    "LicenceCheckDoc",
    "LicenceError",
    "LicenceNotFoundError",
    "LicenceProtocolError",
    "LicenceProvider",
    "LicenceRejectedError",
    "LicenceRequest",
    "LicenceTimeoutError",
    "LicenceUnavailableError",
    "NoProvider",
    "NoProviderError",
    "Outcome",
    "apply",
    "check_of",
    "fetch",
    "holder_of",
    "record",
]

log = logging.getLogger(__name__)

CHECK_STATES: Final = ("pending", "verified", "unverified", "failed", "not_found", "invalid", "supplied")
BLOCKING_STATES: Final = ("pending", "failed", "not_found", "invalid")  # the step's result waits for these
RETRIED_STATES: Final = (*BLOCKING_STATES, "unverified")  # what verify_licences fetches again
_MAX_BODY = 1 << 20


# -- what is asked and found ------------------------------------------------------------------


@dataclass(frozen=True)
class LicenceRequest:
    """What the engine asks a provider: the licence of `licence_type` held by `holder` for a material.

    `source` is `e_license` (an 电子证照 type) or `online_check` (a shared-data source). `holder` is
    the holder's credit code or ID number: personal data, left out of repr and never logged.
    """

    material: str
    licence_type: str
    source: str
    case: str
    holder: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Licence:
    """A licence a provider found. `licence_id` may be a personal number: it is left out of repr."""

    licence_id: str | None = field(default=None, repr=False)
    licence_type: str | None = None
    issuer: str | None = None
    valid_until: str | None = None
    status: str = "valid"  # valid | revoked | expired
    attempts: int = 1


@runtime_checkable
class LicenceProvider(Protocol):
    """Where e-licences and shared data are verified; one per engine (`Engine(licences=…)`).

    `fetch` returns the licence found or raises a `LicenceError` subclass; it must never return a
    licence it did not find. `name` is recorded with every check.
    """

    name: str

    def fetch(self, request: LicenceRequest) -> Licence: ...


# -- errors -----------------------------------------------------------------------------------


class LicenceError(Exception):
    """A licence could not be verified; `code` is stored with the check, `retryable` says if retrying may help.

    These are the provider's errors: the engine records them on the check row (never raised to the
    caller of `start_case`/`complete_task`), so they are not part of the `HennanFlowError` tree.
    """

    code: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, attempts: int = 1, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        self.retry_after = retry_after


class NoProviderError(LicenceError):
    """No provider is configured: the material is recorded unverified and the case proceeds."""

    code: ClassVar[str] = "no_provider"


class LicenceNotFoundError(LicenceError):
    """The provider knows no such licence for this holder."""

    code: ClassVar[str] = "not_found"


class LicenceTimeoutError(LicenceError):
    """The provider did not answer in time."""

    code: ClassVar[str] = "timeout"
    retryable: ClassVar[bool] = True


class LicenceUnavailableError(LicenceError):
    """The provider is unavailable: 429, 5xx, or the connection failed."""

    code: ClassVar[str] = "unavailable"
    retryable: ClassVar[bool] = True


class LicenceRejectedError(LicenceError):
    """The provider refused the request (a 4xx other than 404 and 429): configuration or credentials."""

    code: ClassVar[str] = "rejected"


class LicenceProtocolError(LicenceError):
    """The provider answered something that is not the documented JSON."""

    code: ClassVar[str] = "protocol"


# -- providers --------------------------------------------------------------------------------


class NoProvider:
    """No e-licence service configured (as in `make demo`): every check is recorded unverified."""

    name = "none"

    def fetch(self, request: LicenceRequest) -> Licence:
        raise NoProviderError("no e-licence provider is configured; the material is recorded unverified")


class HttpLicenceProvider:
    """The e-licence / shared-data service over HTTP(S) (protocol in the module docstring).

    Usage::

        provider = HttpLicenceProvider("https://zzk.example.gov.cn/api", timeout=3, retries=2, token="…")
        engine = Engine("postgresql+psycopg://…", licences=provider)

    Parameters:
        base_url: http(s) URL; requests go to `{base_url}/licences/query`.
        timeout: seconds to wait for the connection and for each read.
        retries: further attempts after a timeout or an unavailable provider.
        backoff: seconds before the first retry, doubled for each next one (capped by `max_backoff`).
        token: sent as `Authorization: Bearer <token>`.
        proxies: proxies for urllib (default none: the environment's proxy settings are ignored).
        sleep: how to wait between attempts (tests pass a recorder).
    """

    name = "http"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        token: str | None = None,
        proxies: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"the e-licence provider URL must be http(s)://host/…, not {base_url!r}",
                hint="e.g. https://zzk.example.gov.cn/api",
            )
        if timeout <= 0 or backoff < 0 or max_backoff < 0:
            raise ConfigError("timeout must be positive; backoff and max_backoff must not be negative")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"retries must be a whole number ≥ 0, not {retries!r}")
        self.base_url = base_url.rstrip("/")
        self.endpoint = f"{self.base_url}/licences/query"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._token = token
        self._sleep = sleep
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler(dict(proxies or {})))

    def __repr__(self) -> str:
        return f"HttpLicenceProvider({self.base_url!r}, timeout={self.timeout}, retries={self.retries})"

    def fetch(self, request: LicenceRequest) -> Licence:
        body = json.dumps(
            {
                "type": request.licence_type,
                "source": request.source,
                "holder": request.holder,
                "material": request.material,
                "case": request.case,
            },
            ensure_ascii=False,
        ).encode("utf-8")
        attempt = 0
        while True:
            attempt += 1
            try:
                found = self._once(body)
            except LicenceError as exc:
                exc.attempts = attempt
                if not exc.retryable or attempt > self.retries:
                    log.info(
                        "licence fetch failed: material=%s code=%s attempts=%d",
                        request.material,
                        exc.code,
                        attempt,
                    )
                    raise
                delay = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
                if exc.retry_after is not None:
                    delay = min(exc.retry_after, self.max_backoff)
                log.info(
                    "licence fetch: material=%s code=%s, attempt %d of %d, retrying in %.3gs",
                    request.material,
                    exc.code,
                    attempt,
                    self.retries + 1,
                    delay,
                )
                self._sleep(delay)
                continue
            log.info(
                "licence fetched: material=%s status=%s attempts=%d", request.material, found.status, attempt
            )
            return replace(found, attempts=attempt)

    def _once(self, body: bytes) -> Licence:
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        req = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                raw = resp.read(_MAX_BODY + 1)
        except urllib.error.HTTPError as exc:
            status = exc.code
            retry_after = _seconds(exc.headers.get("Retry-After") if exc.headers else None)
            exc.close()
            if status == 404:
                raise LicenceNotFoundError("the provider has no such licence (HTTP 404)") from None
            if status == 429 or status >= 500:
                raise LicenceUnavailableError(
                    f"the provider is unavailable (HTTP {status})", retry_after=retry_after
                ) from None
            raise LicenceRejectedError(f"the provider refused the request (HTTP {status})") from None
        except TimeoutError:
            raise LicenceTimeoutError(f"the provider did not answer within {self.timeout:g}s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise LicenceTimeoutError(f"the provider did not answer within {self.timeout:g}s") from None
            raise LicenceUnavailableError(
                f"cannot reach the provider ({type(exc.reason).__name__})"
            ) from None
        except (http.client.HTTPException, OSError) as exc:
            raise LicenceUnavailableError(
                f"the connection to the provider failed ({type(exc).__name__})"
            ) from None
        if len(raw) > _MAX_BODY:
            raise LicenceProtocolError("the provider's answer is larger than 1 MiB")
        return _parse(raw)


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date: the exponential backoff applies
    return seconds if seconds >= 0 else None


def _parse(raw: bytes) -> Licence:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LicenceProtocolError("the provider's answer is not JSON") from None
    found = doc.get("licence") if isinstance(doc, dict) else None
    if not isinstance(found, dict):
        raise LicenceProtocolError('the provider\'s answer has no "licence" object')
    status = found.get("status", "valid")
    if status not in ("valid", "revoked", "expired"):
        raise LicenceProtocolError("the provider's licence status is not valid, revoked or expired")

    def text(key: str) -> str | None:
        value = found.get(key)
        return None if value is None else str(value)[:500]

    return Licence(
        licence_id=text("id"),
        licence_type=text("type"),
        issuer=text("issuer"),
        valid_until=text("valid_until"),
        status=str(status),
    )


# -- the engine side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The result of one fetch, as a check row stores it."""

    state: str  # verified | unverified | failed | not_found | invalid
    attempts: int
    error_code: str | None = None
    error: str | None = None
    licence: Licence | None = None


def holder_of(applicant: Mapping[str, Any], material: Material) -> str | None:
    """Whose licence to ask for: `intake.holders[material]`, else the applicant's own identifier.

    An enterprise licence (营业执照) is the credit code's; otherwise the ID number, the credit code or
    the portal's `applicant_id`, the first present.
    """
    intake = applicant.get("intake")
    holders = intake.get("holders") if isinstance(intake, Mapping) else None
    if isinstance(holders, Mapping) and isinstance(holders.get(material.id), str):
        return str(holders[material.id]).strip() or None
    licence_type = material.e_license or material.online_check or ""
    order = ("credit_code", "id_number", "applicant_id")
    if "营业执照" not in licence_type:
        order = ("id_number", "credit_code", "applicant_id")
    for key in order:
        value = applicant.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def fetch(provider: LicenceProvider, request: LicenceRequest) -> Outcome:
    """Ask the provider; every error becomes an outcome (nothing is raised, nothing is guessed)."""
    if isinstance(provider, NoProvider):
        return Outcome(
            state="unverified",
            attempts=0,
            error_code=NoProviderError.code,
            error="no e-licence provider is configured; the material is recorded unverified",
        )
    if request.holder is None:
        return Outcome(
            state="failed",
            attempts=0,
            error_code="no_holder",
            error="the applicant data names no holder (credit_code, id_number or intake.holders)",
        )
    try:
        found = provider.fetch(request)
    except NoProviderError as exc:
        return Outcome(state="unverified", attempts=0, error_code=exc.code, error=exc.message)
    except LicenceNotFoundError as exc:
        return Outcome(state="not_found", attempts=exc.attempts, error_code=exc.code, error=exc.message)
    except LicenceError as exc:
        return Outcome(state="failed", attempts=exc.attempts, error_code=exc.code, error=exc.message)
    except Exception as exc:  # a provider's own bug must not pass for a verification
        log.warning("licence provider %s raised %s", getattr(provider, "name", "?"), type(exc).__name__)
        return Outcome(
            state="failed",
            attempts=1,
            error_code="provider_error",
            error=f"the provider failed ({type(exc).__name__})",
        )
    if found.status != "valid":
        return Outcome(
            state="invalid",
            attempts=found.attempts,
            error_code=found.status,
            error=f"the licence is {found.status}",
            licence=found,
        )
    return Outcome(state="verified", attempts=found.attempts, licence=found)


def apply(row: LicenceCheckRow, outcome: Outcome, *, provider: str, now: datetime) -> None:
    """Store an outcome on a check row."""
    row.state = outcome.state
    row.provider = provider[:64]
    row.attempts = (row.attempts or 0) + outcome.attempts
    row.error_code, row.error = outcome.error_code, outcome.error
    found = outcome.licence
    row.licence_id = found.licence_id if found else None
    row.issuer = found.issuer if found else None
    row.valid_until = found.valid_until[:32] if found and found.valid_until else None
    row.licence_status = found.status if found else None
    row.checked_at = now


def record(
    session: Session,
    *,
    provider: LicenceProvider,
    case_id: str,
    task_id: str,
    step: str,
    materials: Sequence[Material],
    applicant: Mapping[str, Any],
    now: datetime,
    fetch_now: bool = True,
) -> list[LicenceCheckRow]:
    """Store the checks of a step that just became ready: fetched now, or `pending` (fetched after commit)."""
    name = str(getattr(provider, "name", "custom"))
    rows = []
    for material in materials:
        source = "e_license" if material.e_license else "online_check"
        request = LicenceRequest(
            material=material.id,
            licence_type=material.e_license or material.online_check or "",
            source=source,
            case=case_id,
            holder=holder_of(applicant, material),
        )
        row = LicenceCheckRow(
            id=str(uuid.uuid4()),
            case_id=case_id,
            task_id=task_id,
            step=step,
            material=material.id,
            material_name=material.name,
            source=source,
            licence_type=request.licence_type,
            attempts=0,
            checked_at=now,
        )
        if fetch_now:
            apply(row, fetch(provider, request), provider=name, now=now)
        else:
            row.state, row.provider = "pending", name[:64]
        session.add(row)
        rows.append(row)
    return rows


# -- what portals see --------------------------------------------------------------------------


class LicenceCheckDoc(TypedDict):
    id: str
    case: str
    task: str
    step: str
    material: str
    name: str
    source: str
    licence_type: str
    state: str
    blocking: bool
    provider: str
    attempts: int
    error_code: str | None
    error: str | None
    issuer: str | None
    valid_until: str | None
    licence_status: str | None
    checked_at: str | None
    supplied_at: str | None


@dataclass(frozen=True)
class LicenceCheck:
    """The verification of one exempted material of a step (states in the module docstring)."""

    id: str
    case: str
    task: str
    step: str
    material: str
    name: str
    source: str
    licence_type: str
    state: str
    provider: str
    attempts: int
    checked_at: datetime
    error_code: str | None = None
    error: str | None = None
    issuer: str | None = None
    valid_until: str | None = None
    licence_status: str | None = None
    supplied_at: datetime | None = None

    @property
    def blocking(self) -> bool:
        """True while the step's result must wait (retry, or supply the material)."""
        return self.state in BLOCKING_STATES

    def as_dict(self) -> LicenceCheckDoc:
        return {
            "id": self.id,
            "case": self.case,
            "task": self.task,
            "step": self.step,
            "material": self.material,
            "name": self.name,
            "source": self.source,
            "licence_type": self.licence_type,
            "state": self.state,
            "blocking": self.blocking,
            "provider": self.provider,
            "attempts": self.attempts,
            "error_code": self.error_code,
            "error": self.error,
            "issuer": self.issuer,
            "valid_until": self.valid_until,
            "licence_status": self.licence_status,
            "checked_at": local_iso(self.checked_at),
            "supplied_at": local_iso(self.supplied_at),
        }


def check_of(row: LicenceCheckRow) -> LicenceCheck:
    return LicenceCheck(
        id=row.id,
        case=row.case_id,
        task=row.task_id,
        step=row.step,
        material=row.material,
        name=row.material_name,
        source=row.source,
        licence_type=row.licence_type,
        state=row.state,
        provider=row.provider,
        attempts=row.attempts,
        checked_at=as_utc(row.checked_at),
        error_code=row.error_code,
        error=row.error,
        issuer=row.issuer,
        valid_until=row.valid_until,
        licence_status=row.licence_status,
        supplied_at=as_utc(row.supplied_at),
    )
