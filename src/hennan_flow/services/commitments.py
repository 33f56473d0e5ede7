"""告知承诺 in the running case: commitments, their post-verification, and credit consequences.

The audit exempts a material by commitment (R3, `commitment="true"`); the running case honours it.
When a step becomes ready, each such material of the step becomes a commitment record (domain.md §6)::

    (step ready) ─▶ signed ──verify, true ──▶ verified
        │              ├──── verify, false ─▶ false      decision revoked, credit record, case terminated if open
        │              ├──── decline ───────▶ declined   the applicant hands in the material instead
        │              └──── step cancelled ▶ void       no decision was made on it
        ├─ intake declines ──────────────────▶ declined
        └─ applicant barred ─────────────────▶ refused   the material must be supplied before the result

**Signing.** Applying for the bundle is the applicant's signature: the portal shows the commitment text
(`commitment_text`) before it starts the case, and each record is `signed` by `"applicant"` at the
instant the step is accepted, with the text and its version. An applicant who prefers to hand in the
material lists it under `intake.decline_commitments` in the applicant JSON, or declines later while
the step is still open (`Engine.decline_commitment`); either way the material counts as handed in.

**Post-verification (事后核查).** When the step's decision is made (the step completes) every signed
record gets its own deadline on the statutory clock: `verify_within` working days (default 20) after
the decision, a deadline row of scope `verify` whose yellow and red cards the sweeper issues like any
other. Verification records the method (written 书面核查, online 网络核验, on_site 实地调查,
publicity 公示核查), the result and a note; a late verification gets its cards in the same
transaction. A commitment may be verified before the decision too.

**A false commitment** (one transaction): the record becomes `false`; if the step's decision was made,
`decision.revoked` (audit event and outbox); if the case is still open it is terminated
(`case.terminated`, reason false_commitment); a credit record is written and pushed to the step's
department (outbox `credit.record`). Until that record is repaired (`Engine.repair_credit`, 信用修复)
the applicant may not commit: in a later case the commitment is `refused` and the step's result is
refused with a clear error until the material is supplied. Every state change also goes to the
outbox as `commitment.status_changed` (推送承诺状态至监管部门).

**Who the applicant is.** The applicant JSON of a case names the applicant by `credit_code` (统一社会
信用代码, enterprises), else `id_number` (居民身份证号码), else `applicant_id` (the portal's own stable
id). The engine never stores or logs that value outside the case row: records carry an *applicant key*,
`ap-` + HMAC-SHA-256 of "kind:VALUE" (trimmed, upper case) under a random per-database secret made by
migration 0004 (`hf_meta.applicant_salt`), so the key is stable across cases of one database and cannot
be reversed by enumerating ID numbers without that secret. An applicant without any of the three keys
can still commit, but a false commitment cannot bar them later (the credit record has no key).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..bpmn.bundle import Bundle, Material, TimeLimit
from ..clock.deadlines import Deadlines
from ..clock.instants import as_utc, local_iso
from ..db.models import DeadlineRow, MetaRow
from ..db.service_rows import CommitmentRow, CreditRow
from ..db.transaction import Tx
from ..errors import InputError, NotFoundError, StateError

__all__ = [
    "COMMITMENT_STATES",
    "COMMITMENT_STATE_NAMES",
    "IDENTITY_KEYS",
    "METHODS",
    "VERIFY_WITHIN",
    "Commitment",
    "CommitmentDoc",
    "CreditRecord",
    "CreditRecordDoc",
    "applicant_key",
    "commitment_of",
    "commitment_text",
    "credit_of",
    "credit_records",
    "identity_of",
    "listed",
    "open_credit",
    "text_for",
]

log = logging.getLogger(__name__)

COMMITMENT_STATES: Final = ("signed", "declined", "refused", "verified", "false", "void")
COMMITMENT_STATE_NAMES: Final[Mapping[str, str]] = {  # as county staff read them (CLI, demo)
    "signed": "已签署",
    "declined": "已放弃",
    "refused": "不予适用",
    "verified": "核查属实",
    "false": "虚假承诺",
    "void": "已作废",
}
VERIFY_WITHIN: Final = 20  # working days after the decision (domain.md §6: no national window)
METHODS: Final[Mapping[str, str]] = {
    "written": "书面核查",
    "online": "网络核验",
    "on_site": "实地调查",
    "publicity": "公示核查",
}
IDENTITY_KEYS: Final = ("credit_code", "id_number", "applicant_id")  # in this order
TEXT_FORMAT: Final = "v1"
_SALT_KEY: Final = "applicant_salt"


# -- who the applicant is ----------------------------------------------------------------------


def identity_of(applicant: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, normalized value) of the applicant's identifier, or None (module docstring)."""
    for key in IDENTITY_KEYS:
        value = applicant.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            text = "".join(str(value).split()).upper()
            if text:
                return key, text
    return None


def _salt(tx: Tx) -> bytes:
    if tx.applicant_salt is not None:
        return tx.applicant_salt
    session = tx.session
    row = session.get(MetaRow, _SALT_KEY)
    if row is None:  # a database whose secret was removed: make a new one (keys change with it)
        log.warning(
            "hf_meta has no applicant secret; a new one is made (earlier applicant keys no longer match)"
        )
        row = MetaRow(key=_SALT_KEY, value=secrets.token_hex(32))
        session.add(row)
    salt = row.value.encode("ascii")
    tx.applicant_salt = salt
    return salt


def applicant_key(tx: Tx, applicant: Mapping[str, Any]) -> str | None:
    """The applicant's stable, non-reversible key in this database, or None without an identifier."""
    found = identity_of(applicant)
    if found is None:
        return None
    kind, value = found
    digest = hmac.new(_salt(tx), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"ap-{digest[:40]}"


def open_credit(session: Session, key: str | None) -> list[CreditRow]:
    """The applicant's credit records not repaired yet (each bars commitments)."""
    if key is None:
        return []
    return list(
        session.scalars(
            select(CreditRow)
            .where(CreditRow.applicant_key == key, CreditRow.repaired_at.is_(None))
            .order_by(CreditRow.id)
        )
    )


# -- the commitment text -------------------------------------------------------------------------


def commitment_text(material: Material) -> str:
    """The 告知承诺书 for one material: what the agency tells the applicant and what the applicant commits."""
    bases = "；".join(f"{b.doc}{b.article or ''}" for b in material.legal_bases) or "有关法律法规"
    return (
        f"告知承诺书（{material.name}）\n"
        f"告知：依据{bases}，申请人须提交「{material.name}」以证明相应条件。实行告知承诺的，申请人书面承诺"
        "已符合该条件，行政机关不再索要该材料，依承诺作出决定，并在决定后依法核查。\n"
        "承诺：申请人已符合上述条件，所承诺内容真实、准确、完整。如承诺不实，愿承担撤销行政决定、记入信用记录、"
        "依法接受失信惩戒等法律责任；在信用修复前不再适用告知承诺。"
    )


def text_version(text: str) -> str:
    return f"{TEXT_FORMAT}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"


def text_for(bundle: Bundle, material: str) -> dict[str, str]:
    """The 告知承诺书 a portal shows before the case starts: material, name, text, text_version."""
    found = next((m for m in bundle.materials() if m.id == material and m.commitment), None)
    if found is None:
        raise NotFoundError(
            f"bundle {bundle.key!r} has no material {material!r} that a commitment may replace"
        )
    text = commitment_text(found)
    return {"material": found.id, "name": found.name, "text": text, "text_version": text_version(text)}


# -- the life cycle ----------------------------------------------------------------------------


def _changed(
    tx: Tx,
    row: CommitmentRow,
    before: str | None,
    *,
    now: datetime,
    actor: str | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Audit event `commitment.<state>` and outbox `commitment.status_changed` for one transition."""
    extra = dict(detail or {})
    tx.journal.announce(
        f"commitment.{row.state}",
        outbox_type="commitment.status_changed",
        case=row.case_id,
        task=row.task_id,
        step=row.step,
        actor=actor,
        at=now,
        ref=row.id,
        detail={"commitment": row.id, "material": row.material, "from": before, **extra},
        payload={
            "commitment": row.id,
            "case": row.case_id,
            "task": row.task_id,
            "step": row.step,
            "material": row.material,
            "department": row.department,
            "applicant": row.applicant_key,
            "from": before,
            "state": row.state,
            "method": row.method,
            "result": row.result,
            "at": local_iso(now),
            **extra,
        },
    )


def open_for_step(
    tx: Tx,
    *,
    case_id: str,
    task_id: str,
    step: str,
    department: str | None,
    materials: Sequence[Material],
    key: str | None,
    declined: frozenset[str],
    now: datetime,
    actor: str | None,
) -> list[CommitmentRow]:
    """The records of a step that just became ready (signed, declined or refused)."""
    session = tx.session
    barred = [r.id for r in open_credit(session, key)]
    rows = []
    for material in materials:
        text = commitment_text(material)
        row = CommitmentRow(
            id=str(uuid.uuid4()),
            case_id=case_id,
            task_id=task_id,
            step=step,
            material=material.id,
            material_name=material.name,
            department=department,
            text=text,
            text_version=text_version(text),
            applicant_key=key,
            verify_within=VERIFY_WITHIN,
        )
        detail: dict[str, Any] = {"identified": key is not None}
        if material.id in declined:
            row.state = "declined"
            row.declined_at, row.declined_by = now, "applicant"
            row.supplied_at, row.supplied_by = now, actor
            detail["via"] = "intake"
        elif barred:
            row.state = "refused"
            detail["credit_records"] = barred
        else:
            row.state = "signed"
            row.signed_at, row.signed_by = now, "applicant"
            detail["text_version"] = row.text_version
        session.add(row)
        rows.append(row)
        _changed(tx, row, None, now=now, actor=actor, detail=detail)
    return rows


def rows_of_task(session: Session, task_id: str) -> list[CommitmentRow]:
    return list(
        session.scalars(
            select(CommitmentRow).where(CommitmentRow.task_id == task_id).order_by(CommitmentRow.material)
        )
    )


def start_verification(tx: Tx, deadlines: Deadlines, rows: Sequence[CommitmentRow], *, now: datetime) -> None:
    """The step's decision was made: each signed record's post-verification clock starts."""
    for row in rows:
        if row.state != "signed" or row.decided_at is not None:
            continue
        row.decided_at = now
        deadlines.start(  # flushes the change first (tx.raw)
            tx,
            owner=row.id,
            case_id=row.case_id,
            task_id=row.task_id,
            scope="verify",
            step=row.step,
            kind="promised",
            limit=TimeLimit(unit="workday", promised=row.verify_within),
            accepted_at=now,
        )
        row.verify_due = as_utc(
            tx.session.scalar(select(DeadlineRow.promised_due).where(DeadlineRow.id == row.id))
        )


def void_for_task(tx: Tx, task_id: str, *, now: datetime) -> list[CommitmentRow]:
    """The step ended without a decision: its signed records become void."""
    out = []
    for row in rows_of_task(tx.session, task_id):
        if row.state == "signed" and row.decided_at is None:
            row.state = "void"
            _changed(tx, row, "signed", now=now, actor=None)
            out.append(row)
    return out


def listed(
    session: Session,
    *,
    case: str | None = None,
    task: str | None = None,
    state: str | None = None,
    applicant: str | None = None,
) -> list[Commitment]:
    """Commitment records, by case, step instance, state and applicant key (oldest first)."""
    query = select(CommitmentRow)
    for column, value in (
        (CommitmentRow.case_id, case),
        (CommitmentRow.task_id, task),
        (CommitmentRow.state, state),
        (CommitmentRow.applicant_key, applicant),
    ):
        if value is not None:
            query = query.where(column == value)
    return [
        commitment_of(r) for r in session.scalars(query.order_by(CommitmentRow.signed_at, CommitmentRow.id))
    ]


def credit_records(
    session: Session, *, applicant: str | None = None, open_only: bool = False
) -> list[CreditRecord]:
    """Credit records (false commitments), by applicant key; `open_only`: not repaired yet."""
    query = select(CreditRow)
    if applicant is not None:
        query = query.where(CreditRow.applicant_key == applicant)
    if open_only:
        query = query.where(CreditRow.repaired_at.is_(None))
    return [credit_of(r) for r in session.scalars(query.order_by(CreditRow.id))]


def get(session: Session, commitment_id: str) -> CommitmentRow:
    row = session.get(CommitmentRow, commitment_id)
    if row is None:
        raise NotFoundError(
            f"no commitment {commitment_id!r}", hint="list commitments with: hennan-flow commitment list"
        )
    return row


def decline(tx: Tx, row: CommitmentRow, *, now: datetime, actor: str | None, task_open: bool) -> None:
    """The applicant hands in the material instead of the signed commitment (the step must be open)."""
    if row.state != "signed":
        raise StateError(
            f"commitment {row.id} ({row.material}) is {row.state}; only a signed commitment can be declined"
        )
    if not task_open or row.decided_at is not None:
        raise StateError(
            f"the decision of step {row.step!r} was already made on commitment {row.id}; it can no longer be declined",
            hint="verify it instead: hennan-flow commitment verify",
        )
    row.state = "declined"
    row.declined_at, row.declined_by = now, actor or "applicant"
    row.supplied_at, row.supplied_by = now, actor
    _changed(tx, row, "signed", now=now, actor=actor, detail={"via": "decline"})


def method_code(method: str) -> str:
    """An English method code, also accepting the Chinese name (网络核验 → online)."""
    text = (method or "").strip()
    if text in METHODS:
        return text
    for code, name in METHODS.items():
        if name == text:
            return code
    raise InputError(
        f"unknown verification method {method!r}",
        hint="use " + ", ".join(f"{c} ({n})" for c, n in METHODS.items()),
    )


def verify(
    tx: Tx,
    deadlines: Deadlines,
    row: CommitmentRow,
    *,
    result: bool,
    method: str,
    note: str,
    now: datetime,
    actor: str | None,
) -> None:
    """Record the post-verification; a late one gets its cards now (at their instants)."""
    code = method_code(method)
    note = (note or "").strip()
    if not note:
        raise InputError("a verification needs a note (核查记录)", hint="pass --note TEXT")
    if not isinstance(result, bool):
        raise InputError(f"the verification result must be true or false, not {result!r}")
    if row.state != "signed":
        raise StateError(
            f"commitment {row.id} ({row.material}) is {row.state}; only a signed commitment is verified",
            hint="list it with: hennan-flow commitment list --case " + row.case_id,
        )
    row.method, row.result, row.note = code, result, note
    row.verified_at, row.verified_by = now, actor
    row.state = "verified" if result else "false"
    if row.decided_at is not None:
        deadlines.close(tx, row.id, now)
    _changed(
        tx,
        row,
        "signed",
        now=now,
        actor=actor,
        detail={"late": row.verify_due is not None and now > as_utc(row.verify_due)},
    )


def record_credit(tx: Tx, row: CommitmentRow, *, now: datetime, actor: str | None) -> CreditRow:
    """A false commitment's credit record, pushed to the supervising department (the step's)."""
    credit = CreditRow(
        applicant_key=row.applicant_key,
        case_id=row.case_id,
        commitment_id=row.id,
        kind="false_commitment",
        department=row.department,
        recorded_at=now,
    )
    tx.session.add(credit)
    tx.session.flush()
    row.credit_id = credit.id
    tx.journal.announce(
        "credit.recorded",
        outbox_type="credit.record",
        case=row.case_id,
        task=row.task_id,
        step=row.step,
        actor=actor,
        at=now,
        ref=str(credit.id),
        detail={"credit": credit.id, "commitment": row.id, "identified": row.applicant_key is not None},
        payload={
            "record": credit.id,
            "kind": credit.kind,
            "applicant": credit.applicant_key,
            "case": row.case_id,
            "commitment": row.id,
            "material": row.material,
            "step": row.step,
            "department": row.department,
            "at": local_iso(now),
        },
    )
    return credit


def repair(tx: Tx, record_id: int, *, note: str, now: datetime, actor: str | None) -> CreditRow:
    """信用修复: the credit record stops barring the applicant from commitments (it stays on file)."""
    note = (note or "").strip()
    if not note:
        raise InputError(
            "a credit repair needs a note (what was repaired, on which decision)", hint="pass --note"
        )
    credit = tx.session.get(CreditRow, record_id)
    if credit is None:
        raise NotFoundError(
            f"no credit record {record_id!r}", hint="list them with: hennan-flow commitment credit"
        )
    if credit.repaired_at is not None:
        raise StateError(f"credit record {record_id} was already repaired")
    credit.repaired_at, credit.repaired_by, credit.repair_note = now, actor, note
    tx.journal.announce(
        "credit.repaired",
        case=credit.case_id,
        actor=actor,
        at=now,
        ref=str(credit.id),
        detail={"credit": credit.id},
        payload={"record": credit.id, "applicant": credit.applicant_key, "at": local_iso(now)},
    )
    return credit


# -- what portals see ----------------------------------------------------------------------------


class CommitmentDoc(TypedDict):
    id: str
    case: str
    task: str
    step: str
    material: str
    name: str
    department: str | None
    state: str
    blocking: bool
    text_version: str
    applicant: str | None
    signed_by: str | None
    signed_at: str | None
    decided_at: str | None
    verify_within: int
    verify_due: str | None
    method: str | None
    result: bool | None
    verified_at: str | None
    verified_by: str | None
    note: str | None
    declined_at: str | None
    supplied_at: str | None
    credit_record: int | None


@dataclass(frozen=True)
class Commitment:
    """A 告知承诺 record (states and transitions in the module docstring).

    `applicant` is the applicant key, never the identifier itself; `blocking` is True while the step's
    result must wait for the material (a refused commitment not supplied yet).
    """

    id: str
    case: str
    task: str
    step: str
    material: str
    name: str
    department: str | None
    state: str
    text: str
    text_version: str
    applicant: str | None
    verify_within: int
    signed_by: str | None = None
    signed_at: datetime | None = None
    decided_at: datetime | None = None
    verify_due: datetime | None = None
    method: str | None = None
    result: bool | None = None
    verified_at: datetime | None = None
    verified_by: str | None = None
    note: str | None = None
    declined_at: datetime | None = None
    supplied_at: datetime | None = None
    credit_record: int | None = None

    @property
    def blocking(self) -> bool:
        return self.state == "refused" and self.supplied_at is None

    def as_dict(self) -> CommitmentDoc:
        return {
            "id": self.id,
            "case": self.case,
            "task": self.task,
            "step": self.step,
            "material": self.material,
            "name": self.name,
            "department": self.department,
            "state": self.state,
            "blocking": self.blocking,
            "text_version": self.text_version,
            "applicant": self.applicant,
            "signed_by": self.signed_by,
            "signed_at": local_iso(self.signed_at),
            "decided_at": local_iso(self.decided_at),
            "verify_within": self.verify_within,
            "verify_due": local_iso(self.verify_due),
            "method": self.method,
            "result": self.result,
            "verified_at": local_iso(self.verified_at),
            "verified_by": self.verified_by,
            "note": self.note,
            "declined_at": local_iso(self.declined_at),
            "supplied_at": local_iso(self.supplied_at),
            "credit_record": self.credit_record,
        }


def commitment_of(row: CommitmentRow) -> Commitment:
    return Commitment(
        id=row.id,
        case=row.case_id,
        task=row.task_id,
        step=row.step,
        material=row.material,
        name=row.material_name,
        department=row.department,
        state=row.state,
        text=row.text,
        text_version=row.text_version,
        applicant=row.applicant_key,
        verify_within=row.verify_within,
        signed_by=row.signed_by,
        signed_at=as_utc(row.signed_at),
        decided_at=as_utc(row.decided_at),
        verify_due=as_utc(row.verify_due),
        method=row.method,
        result=row.result,
        verified_at=as_utc(row.verified_at),
        verified_by=row.verified_by,
        note=row.note,
        declined_at=as_utc(row.declined_at),
        supplied_at=as_utc(row.supplied_at),
        credit_record=row.credit_id,
    )


class CreditRecordDoc(TypedDict):
    id: int
    kind: str
    applicant: str | None
    case: str
    commitment: str
    department: str | None
    recorded_at: str | None
    repaired_at: str | None
    repaired_by: str | None
    repair_note: str | None
    open: bool


@dataclass(frozen=True)
class CreditRecord:
    """A credit record (信用记录): a false commitment; it bars commitments until repaired (信用修复)."""

    id: int
    kind: str
    applicant: str | None
    case: str
    commitment: str
    department: str | None
    recorded_at: datetime
    repaired_at: datetime | None = None
    repaired_by: str | None = None
    repair_note: str | None = None

    def as_dict(self) -> CreditRecordDoc:
        return {
            "id": self.id,
            "kind": self.kind,
            "applicant": self.applicant,
            "case": self.case,
            "commitment": self.commitment,
            "department": self.department,
            "recorded_at": local_iso(self.recorded_at),
            "repaired_at": local_iso(self.repaired_at),
            "repaired_by": self.repaired_by,
            "repair_note": self.repair_note,
            "open": self.repaired_at is None,
        }


def credit_of(row: CreditRow) -> CreditRecord:
    return CreditRecord(
        id=row.id,
        kind=row.kind,
        applicant=row.applicant_key,
        case=row.case_id,
        commitment=row.commitment_id,
        department=row.department,
        recorded_at=as_utc(row.recorded_at),
        repaired_at=as_utc(row.repaired_at),
        repaired_by=row.repaired_by,
        repair_note=row.repair_note,
    )
