"""`commitment`, `material` and `review`: 告知承诺, 容缺受理, e-licence checks and 好差评 (docs/services.md).

With `--format json` every command prints one document: a record's `as_dict()` (commitment,
credit record, review) or a list of them, or the step's materials (`CaseMaterials.as_dict()`: its
commitments, tolerated materials, e-licence checks and what is still missing). As for cards, there is
no command that deletes a commitment, a credit record or a review: records are closed, never deleted.
"""

from __future__ import annotations

from datetime import date

import click

from ..clock.instants import local_iso, parse_day
from ..services.commitments import (
    COMMITMENT_STATE_NAMES,
    COMMITMENT_STATES,
    METHODS,
    Commitment,
    CreditRecord,
)
from ..services.reviews import CHANNELS, COMPLEXITIES, FINDINGS, LEVELS, Review
from ..services.tolerance import CaseMaterials
from ._context import CliContext, format_option, pass_cli
from ._params import DAYS, FiniteFloat
from ._text import STATE_NAMES, table, when

__all__ = ["commitment", "material", "review"]

_ACTOR = click.option(
    "--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="Who does it (recorded in the audit log)."
)


# -- commitment ---------------------------------------------------------------------------------


@click.group()
def commitment() -> None:
    """告知承诺: commitment records, their post-verification, credit records and their repair."""


@commitment.command("list")
@click.option("--case", "case_id", default=None, help="Only this case's commitments.")
@click.option("--task", "task_id", default=None, help="Only this step instance's commitments.")
@click.option(
    "--state",
    type=click.Choice(list(COMMITMENT_STATES)),
    default=None,
)
@click.option("--applicant", default=None, help="Only this applicant key (ap-…).")
@format_option()
@pass_cli
def commitment_list(
    obj: CliContext, case_id: str | None, task_id: str | None, state: str | None, applicant: str | None
) -> None:
    """List commitment records, oldest first."""
    found = obj.engine().commitments(case=case_id, task=task_id, state=state, applicant=applicant)
    obj.emit(
        [c.as_dict() for c in found],
        lambda: table(
            ("承诺", "状态", "案件", "步骤", "材料", "签署时间", "核查期限"),
            [_commitment_row(c) for c in found],
            empty="没有符合条件的告知承诺。",
        ),
    )


@commitment.command("show")
@click.argument("commitment_id")
@format_option()
@pass_cli
def commitment_show(obj: CliContext, commitment_id: str) -> None:
    """Show a commitment record with the text the applicant signed."""
    shown = obj.engine().commitment(commitment_id)
    obj.emit(shown.as_dict(), lambda: _commitment_text(shown))


@commitment.command("verify")
@click.argument("commitment_id")
@click.option(
    "--result", type=click.Choice(["true", "false"]), required=True, help="Was the commitment true?"
)
@click.option(
    "--method",
    type=click.Choice(list(METHODS) + list(METHODS.values())),
    required=True,
    help="written 书面核查, online 网络核验, on_site 实地调查, publicity 公示核查.",
)
@click.option("--note", required=True, help="What was checked (kept in the record).")
@_ACTOR
@format_option()
@pass_cli
def commitment_verify(
    obj: CliContext, commitment_id: str, result: str, method: str, note: str, actor: str | None
) -> None:
    """Record the post-verification (事后核查); a false commitment triggers its consequences."""
    done = obj.engine().verify_commitment(
        commitment_id, result=result == "true", method=method, note=note, actor=actor
    )
    obj.emit(done.as_dict(), lambda: _commitment_text(done, text=False))


@commitment.command("decline")
@click.argument("commitment_id")
@_ACTOR
@format_option()
@pass_cli
def commitment_decline(obj: CliContext, commitment_id: str, actor: str | None) -> None:
    """The applicant declines the commitment and hands in the material instead (step still open)."""
    done = obj.engine().decline_commitment(commitment_id, actor=actor)
    obj.emit(done.as_dict(), lambda: _commitment_text(done, text=False))


@commitment.command("credit")
@click.option("--applicant", default=None, help="Only this applicant key (ap-…).")
@click.option("--open", "open_only", is_flag=True, help="Only records not repaired yet.")
@format_option()
@pass_cli
def commitment_credit(obj: CliContext, applicant: str | None, open_only: bool) -> None:
    """List credit records (false commitments); an open one bars the applicant from commitments."""
    found = obj.engine().credit_records(applicant=applicant, open_only=open_only)
    obj.emit(
        [r.as_dict() for r in found],
        lambda: table(
            _CREDIT_HEADERS,
            [_credit_row(r) for r in found],
            empty="没有符合条件的信用记录。",
        ),
    )


@commitment.command("repair")
@click.argument("record_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--note", required=True, help="The repair (信用修复) and its basis.")
@_ACTOR
@format_option()
@pass_cli
def commitment_repair(obj: CliContext, record_id: int, note: str, actor: str | None) -> None:
    """信用修复: the credit record no longer bars the applicant (it stays on file)."""
    done = obj.engine().repair_credit(record_id, note=note, actor=actor)
    obj.emit(done.as_dict(), lambda: table(_CREDIT_HEADERS, [_credit_row(done)], empty=""))


def _commitment_row(c: Commitment) -> tuple[str, ...]:
    return (
        c.id,
        COMMITMENT_STATE_NAMES.get(c.state, c.state),
        c.case,
        c.step,
        f"{c.name}（{c.material}）" if c.name else c.material,
        when(c.signed_at),
        when(c.verify_due),
    )


def _commitment_text(c: Commitment, *, text: bool = True) -> str:
    doc = c.as_dict()
    lines = [
        f"commitment {c.id}: {c.state}" + (" (blocks the step's result)" if c.blocking else ""),
        f"case {c.case}, step {c.step}, material {c.material} ({c.name}), department {c.department or '-'}",
        f"signed {doc['signed_at'] or '-'} by {c.signed_by or '-'}; text {c.text_version}; applicant {c.applicant or '-'}",
        f"decided {doc['decided_at'] or '-'}; verify by {doc['verify_due'] or '-'} ({c.verify_within} working days)",
    ]
    if c.verified_at is not None:
        lines.append(
            f"verified {doc['verified_at']} by {c.verified_by or '-'}: {METHODS.get(c.method or '', c.method)}, "
            f"{'true' if c.result else 'FALSE'}: {c.note}"
        )
    if c.credit_record is not None:
        lines.append(f"credit record {c.credit_record}")
    if text:
        lines += ["", c.text]
    return "\n".join(lines)


_CREDIT_HEADERS = ("记录", "类别", "状态", "申请人", "案件", "承诺", "部门")


def _credit_row(r: CreditRecord) -> tuple[str, ...]:
    state = "未修复" if r.repaired_at is None else f"已修复 {when(r.repaired_at)}"
    kind = {"false_commitment": "虚假承诺"}.get(r.kind, r.kind)
    return (str(r.id), kind, state, r.applicant or "-", r.case, r.commitment, r.department or "-")


# -- material -----------------------------------------------------------------------------------


@click.group()
def material() -> None:
    """Materials beyond the checklist: 容缺 (tolerated), refused commitments, e-licence checks."""


@material.command("list")
@click.option("--case", "case_id", default=None, help="The materials of this case.")
@click.option("--task", "task_id", default=None, help="The materials of this step instance.")
@format_option()
@pass_cli
def material_list(obj: CliContext, case_id: str | None, task_id: str | None) -> None:
    """Show a case's or step's commitments, tolerated materials, e-licence checks and what is missing."""
    if case_id is None and task_id is None:
        raise click.UsageError("请指定 --case ID 或 --task ID")
    found = obj.engine().materials(case=case_id, task=task_id)
    obj.emit(found.as_dict(), lambda: _materials_text(found))


@material.command("supply")
@click.argument("task_id")
@click.argument("material_id")
@_ACTOR
@format_option()
@pass_cli
def material_supply(obj: CliContext, task_id: str, material_id: str, actor: str | None) -> None:
    """A material the step waits for was handed in (容缺, a refused commitment, a failed e-licence)."""
    found = obj.engine().supply_material(task_id, material_id, actor=actor)
    obj.emit(found.as_dict(), lambda: _materials_text(found))


@material.command("extend")
@click.argument("task_id")
@click.argument("material_id")
@click.option("--days", type=DAYS, required=True, help="Working days to add (at most 365).")
@click.option("--approver", required=True, help="Who approved the extension.")
@click.option("--reason", required=True, help="Why (the applicant is told).")
@_ACTOR
@format_option()
@pass_cli
def material_extend(
    obj: CliContext, task_id: str, material_id: str, days: int, approver: str, reason: str, actor: str | None
) -> None:
    """Move a tolerated material's supplement deadline (before it passes)."""
    found = obj.engine().extend_supplement(
        task_id, material_id, days=days, approver=approver, reason=reason, actor=actor
    )
    obj.emit(found.as_dict(), lambda: _materials_text(found))


@material.command("verify")
@click.argument("task_id")
@click.option(
    "--provider",
    envvar="HENNAN_FLOW_LICENCE_URL",
    default=None,
    help="Base URL of the e-licence service (env HENNAN_FLOW_LICENCE_URL).",
)
@click.option("--timeout", type=FiniteFloat(0.001, 600), default=5.0, show_default=True)
@click.option("--retries", type=click.IntRange(0, 10), default=2, show_default=True)
@_ACTOR
@format_option()
@pass_cli
def material_verify(
    obj: CliContext, task_id: str, provider: str | None, timeout: float, retries: int, actor: str | None
) -> None:
    """Fetch the step's pending, failed, not found, invalid and unverified e-licence checks again."""
    engine = obj.engine()
    if provider is not None:
        from ..services.licences import HttpLicenceProvider

        engine.licences = HttpLicenceProvider(provider, timeout=timeout, retries=retries)
    found = engine.verify_licences(task_id, actor=actor)
    obj.emit(found.as_dict(), lambda: _materials_text(found))


def _materials_text(m: CaseMaterials) -> str:
    lines = []
    for c in m.commitments:
        lines.append(f"commitment\t{c.state}\t{c.step}\t{c.material}\t{c.id}")
    for t in m.tolerated:
        lines.append(f"tolerated\t{t.state}\t{t.step}\t{t.material}\tdue {local_iso(t.due) or '-'}")
    for lc in m.licences:
        lines.append(f"e-licence\t{lc.state}\t{lc.step}\t{lc.material}\t{lc.error_code or '-'}")
    if m.missing:
        lines.append("missing: " + "; ".join(x.line() for x in m.missing))
    else:
        lines.append("nothing missing")
    return "\n".join(lines)


# -- review -------------------------------------------------------------------------------------


@click.group()
def review() -> None:
    """好差评: reviews (GB/T 39046 A.8 levels 1–5) and the rectification record of a bad one."""


@review.command("add")
@click.argument("case_id")
@click.option(
    "--level",
    type=click.IntRange(1, 5),
    required=True,
    help="1 非常满意, 2 满意, 3 基本满意, 4 不满意, 5 非常不满意.",
)
@click.option("--channel", type=click.Choice(list(CHANNELS)), required=True)
@click.option("--task", "task_id", default=None, help="Review this completed step (一次一评), not the case.")
@click.option("--real-name", is_flag=True, help="Given under the reviewer's real name (实名).")
@click.option("--text", default=None, help="The review's text.")
@_ACTOR
@format_option()
@pass_cli
def review_add(
    obj: CliContext,
    case_id: str,
    level: int,
    channel: str,
    task_id: str | None,
    real_name: bool,
    text: str | None,
    actor: str | None,
) -> None:
    """Add a review of a case or a step; a bad one (4, 5) opens its rectification record."""
    done = obj.engine().add_review(
        case_id, level=level, channel=channel, task=task_id, real_name=real_name, text=text, actor=actor
    )
    obj.emit(done.as_dict(), lambda: _review_text(done))


@review.command("list")
@click.option("--case", "case_id", default=None, help="Only this case's reviews.")
@click.option("--bad", is_flag=True, help="Only bad reviews (4, 5).")
@click.option("--open", "open_only", is_flag=True, help="Only reviews whose record is not closed.")
@format_option()
@pass_cli
def review_list(obj: CliContext, case_id: str | None, bad: bool, open_only: bool) -> None:
    """List reviews, oldest first."""
    found = obj.engine().reviews(case=case_id, bad=True if bad else None, open_only=open_only)
    obj.emit(
        [r.as_dict() for r in found],
        lambda: table(
            ("评价", "等级", "渠道", "案件", "步骤", "整改", "评价时间"),
            [_review_row(r) for r in found],
            empty="没有符合条件的评价。",
        ),
    )


@review.command("show")
@click.argument("review_id")
@format_option()
@pass_cli
def review_show(obj: CliContext, review_id: str) -> None:
    """Show a review with its rectification record and cards."""
    shown = obj.engine().review(review_id)
    obj.emit(shown.as_dict(), lambda: _review_text(shown))


@review.command("verify")
@click.argument("review_id")
@click.option(
    "--finding", type=click.Choice(list(FINDINGS)), required=True, help="founded 属实, unfounded 不属实."
)
@click.option(
    "--complexity",
    type=click.Choice(list(COMPLEXITIES)),
    default=None,
    help="For a founded review: simple (5 working days) or complex (15).",
)
@click.option("--note", required=True)
@_ACTOR
@format_option()
@pass_cli
def review_verify(
    obj: CliContext, review_id: str, finding: str, complexity: str | None, note: str, actor: str | None
) -> None:
    """核实 a bad review."""
    done = obj.engine().verify_review(
        review_id, finding=finding, complexity=complexity, note=note, actor=actor
    )
    obj.emit(done.as_dict(), lambda: _review_text(done))


@review.command("rectify")
@click.argument("review_id")
@click.option("--note", required=True)
@_ACTOR
@format_option()
@pass_cli
def review_rectify(obj: CliContext, review_id: str, note: str, actor: str | None) -> None:
    """整改 done for a founded bad review."""
    done = obj.engine().rectify_review(review_id, note=note, actor=actor)
    obj.emit(done.as_dict(), lambda: _review_text(done))


@review.command("answer")
@click.argument("review_id")
@click.option("--note", required=True)
@_ACTOR
@format_option()
@pass_cli
def review_answer(obj: CliContext, review_id: str, note: str, actor: str | None) -> None:
    """反馈 given to the reviewer (回访); the record closes."""
    done = obj.engine().answer_review(review_id, note=note, actor=actor)
    obj.emit(done.as_dict(), lambda: _review_text(done))


@review.command("summary")
@click.option("--from", "start", metavar="DATE", default=None, help="First day (YYYY-MM-DD).")
@click.option("--to", "end", metavar="DATE", default=None, help="Last day, inclusive (YYYY-MM-DD).")
@click.option("--department", default=None, help="Only this department (lane code).")
@format_option()
@pass_cli
def review_summary(obj: CliContext, start: str | None, end: str | None, department: str | None) -> None:
    """Satisfaction rate, bad reviews and rectified-on-time figures of a period (local dates)."""
    first: date | None = parse_day(start, what="--from") if start else None
    last: date | None = parse_day(end, what="--to") if end else None
    doc = obj.engine().review_summary(start=first, end=last, department=department)

    def text() -> str:
        from ..report.supervision_common import reviews_text

        return "\n".join(reviews_text(doc))

    obj.emit(doc, text)


def _review_row(r: Review) -> tuple[str, ...]:
    rect = r.rectification
    return (
        r.id,
        f"{r.level} {LEVELS[r.level]}",
        CHANNELS.get(r.channel, r.channel),
        r.case,
        r.step or "（整个案件）",
        STATE_NAMES.get(rect.state, rect.state) if rect else "-",
        when(r.at),
    )


def _review_text(r: Review) -> str:
    lines = [
        f"review {r.id}: {r.level} {LEVELS[r.level]} via {r.channel}"
        + (" (real name)" if r.real_name else ""),
        f"case {r.case}" + (f", step {r.step}" if r.step else "") + f", department {r.department or '-'}",
    ]
    rect = r.rectification
    if rect is not None:
        doc = rect.as_dict()
        lines.append(
            f"rectification {rect.id}: {rect.state}"
            + (f" (on time: {rect.on_time})" if rect.closed_at else "")
        )
        for phase, p in (
            ("verify", doc["verify"]),
            ("rectify", doc["rectify"]),
            ("feedback", doc["feedback"]),
        ):
            if p is not None:
                done = f"done {p['done_at']}" if p["done_at"] else "open"
                lines.append(f"  {phase}: due {p['due'] or '-'}, {done} {p['note'] or ''}".rstrip())
        for card in doc["cards"]:
            lines.append(f"  card {card['id']}: {card['color']} ({card['phase']}), {card['state']}")
    return "\n".join(lines)
