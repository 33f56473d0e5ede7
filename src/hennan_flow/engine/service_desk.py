"""The engine's calls for the 政务服务 desk: 告知承诺 commitments and credit, 容缺 materials and
e-licence checks, 好差评 reviews. A mixin of `Engine`, kept apart so the facade stays one screen of
case and step calls; each method checks its arguments and calls one use-case function.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from . import deployments, licence_checks, services
from .context import EngineContext

if TYPE_CHECKING:
    from ..services.commitments import Commitment, CreditRecord
    from ..services.reviews import Review
    from ..services.tolerance import CaseMaterials
    from ..supervision.figures import ReviewSummary

__all__ = ["ServiceDesk"]


class ServiceDesk:
    """Commitments, materials and reviews of the engine (`Engine` inherits them)."""

    context: EngineContext

    # -- services: commitments (告知承诺) -------------------------------------------------------
    def applicant_key(self, applicant: Mapping[str, Any]) -> str | None:
        """The stable, non-reversible key this database gives an applicant (commitments.py), or None."""
        return services.applicant_key(self.context, applicant)

    def commitment_text(self, key: str, material: str) -> dict[str, str]:
        """The 告知承诺书 the portal shows before the case starts: material, name, text, text_version."""
        from ..services.commitments import text_for

        with self.context.read() as session:
            bundle = self.context.definition(session, deployments.find(session, key, None)).bundle
        return text_for(bundle, material)

    def commitments(
        self,
        *,
        case: str | None = None,
        task: str | None = None,
        state: str | None = None,
        applicant: str | None = None,
    ) -> list[Commitment]:
        """Commitment records, by case, step instance, state and applicant key (oldest first)."""
        from ..services.commitments import COMMITMENT_STATES, listed

        if state is not None and state not in COMMITMENT_STATES:
            raise InputError(f"未知的承诺状态 {state!r}", hint="可选值：" + "、".join(COMMITMENT_STATES))
        with self.context.read() as session:
            return listed(session, case=case, task=task, state=state, applicant=applicant)

    def commitment(self, commitment_id: str) -> Commitment:
        """One commitment record."""
        from ..services.commitments import commitment_of, get

        with self.context.read() as session:
            return commitment_of(get(session, commitment_id))

    def decline_commitment(self, commitment_id: str, *, actor: str | None = None) -> Commitment:
        """The applicant declines a signed commitment and hands in the material instead (step still open)."""
        return services.decline_commitment(self.context, commitment_id, actor=actor)

    def verify_commitment(
        self, commitment_id: str, *, result: bool, method: str, note: str, actor: str | None = None
    ) -> Commitment:
        """事后核查: record method and result; a false commitment revokes the decision, terminates an open
        case, writes a credit record (outbox `credit.record`) and bars the applicant until repaired.
        """
        return services.verify_commitment(
            self.context, commitment_id, result=result, method=method, note=note, actor=actor
        )

    def credit_records(self, *, applicant: str | None = None, open_only: bool = False) -> list[CreditRecord]:
        """Credit records (false commitments), by applicant key; `open_only`: not repaired yet."""
        from ..services.commitments import credit_records

        with self.context.read() as session:
            return credit_records(session, applicant=applicant, open_only=open_only)

    def repair_credit(self, record_id: int, *, note: str, actor: str | None = None) -> CreditRecord:
        """信用修复: the record stays on file but no longer bars the applicant from commitments."""
        return services.repair_credit(self.context, record_id, note=note, actor=actor)

    # -- services: materials (容缺, refused commitments, e-licence checks) -------------------------
    def materials(self, *, case: str | None = None, task: str | None = None) -> CaseMaterials:
        """A case's or step's commitments, tolerated materials and e-licence checks, and what is missing."""
        from ..services.materials import case_materials

        if case is None and task is None:
            raise InputError("须指明办件或环节", hint="--case ID 或 --task ID")
        with self.context.read() as session:
            return case_materials(session, case=case, task=task)

    def supply_material(self, task_id: str, material: str, *, actor: str | None = None) -> CaseMaterials:
        """A material the step waits for was handed in: a tolerated one (容缺), one a refused commitment
        needs, or one whose e-licence could not be verified. Returns the step's materials.

        A tolerated material whose deadline has already passed terminates the case at that instant
        instead (the sweeper had not got to it yet), and StateError says so.
        """
        return services.supply_material(self.context, task_id, material, actor=actor)

    def extend_supplement(
        self, task_id: str, material: str, *, days: int, approver: str, reason: str, actor: str | None = None
    ) -> CaseMaterials:
        """An approver moves a tolerated material's supplement deadline by `days` working days (before it passes)."""
        return services.extend_supplement(
            self.context, task_id, material, days=days, approver=approver, reason=reason, actor=actor
        )

    def verify_licences(self, task_id: str, *, actor: str | None = None) -> CaseMaterials:
        """Ask again for the step's pending, failed, not found, invalid and unverified e-licence checks.

        The provider is asked outside any transaction (no lock is held while it answers); each answer
        is then stored unless the check changed meanwhile.
        """
        return licence_checks.verify(self.context, task_id, actor=actor)

    # -- services: reviews (好差评) ---------------------------------------------------------------
    def add_review(
        self,
        case_id: str,
        *,
        level: int,
        channel: str,
        task: str | None = None,
        real_name: bool = False,
        text: str | None = None,
        actor: str | None = None,
    ) -> Review:
        """A review of a case (after it ended) or of one of its steps (after it completed), level 1–5.

        A bad review (4 不满意, 5 非常不满意) opens its rectification record (reviews.py).
        """
        from ..services.reviews import check_input

        level, channel = check_input(level, channel)
        return services.add_review(
            self.context,
            case_id,
            level=level,
            channel=channel,
            task=task,
            real_name=real_name,
            text=text,
            actor=actor,
        )

    def reviews(
        self, *, case: str | None = None, bad: bool | None = None, open_only: bool = False
    ) -> list[Review]:
        """Reviews oldest first; `bad` filters levels 4–5 (or 1–3); `open_only`: records not closed yet."""
        from ..services.reviews import listed

        with self.context.read() as session:
            return listed(session, case=case, bad=bad, open_only=open_only)

    def review(self, review_id: str) -> Review:
        """One review with its rectification record and the cards its phases got."""
        from ..services.reviews import find, reviews_of

        with self.context.read() as session:
            row, _rect = find(session, review_id)
            return reviews_of(session, [row])[0]

    def verify_review(
        self,
        review_id: str,
        *,
        finding: str,
        note: str,
        complexity: str | None = None,
        actor: str | None = None,
    ) -> Review:
        """核实 a bad review: founded (rectify: simple 5 / complex 15 working days) or unfounded (explain)."""
        return services.move_review(
            self.context, review_id, "verify", finding=finding, complexity=complexity, note=note, actor=actor
        )

    def rectify_review(self, review_id: str, *, note: str, actor: str | None = None) -> Review:
        """整改 done for a founded bad review; the feedback (反馈) phase starts."""
        return services.move_review(self.context, review_id, "rectify", note=note, actor=actor)

    def answer_review(self, review_id: str, *, note: str, actor: str | None = None) -> Review:
        """反馈 given to the reviewer (回访); the rectification record closes."""
        return services.move_review(self.context, review_id, "answer", note=note, actor=actor)

    def review_summary(
        self, *, start: date | None = None, end: date | None = None, department: str | None = None
    ) -> ReviewSummary:
        """The 好差评 figures of a period and department (the supervision report's reviews section)."""
        from ..supervision.review_figures import summary

        now = self.context.now()
        with self.context.read() as session:
            return summary(session, start=start, end=end, department=department, now=now)
