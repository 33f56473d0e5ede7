"""The supervisor's dashboard and the designer's audit view (routes of the workbench, under /web).

* `/web/supervision` — open cards by department and step (phase), the open supervision records,
  the steps past their deadline, the report's on-time figures per department, each with a link to
  its case page. Supervisors, auditors and admins see every department (DESIGN §8); anyone else the
  departments they belong to.
* `/web/audit` — pick one of the packaged bundles or upload a BPMN file: the validate and 五个一律
  audit findings pinned to their elements on the diagram, the findings' list and the material
  checklist of every scenario. Nothing is stored; the upload is read as `validate` reads a file.
"""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from lxml import etree
from starlette.concurrency import run_in_threadpool

from ..audit import audit_paths
from ..bpmn.layout import laid_out
from ..bpmn.xmlsafe import DEFAULT_MAX_BYTES, parse_bytes
from ..engine.facade import Engine
from ..errors import HennanFlowError, NotFoundError
from ..http.deps import engine
from ..identity.permissions import may_read_all
from ..resources import packaged_forms, packaged_processes
from .pages import SignedIn, department_names, error_page, login_first, page

__all__ = ["audit_context", "router"]


def _departments_of(eng: Engine, user: str) -> list[str] | None:
    """The departments `user` supervises: None for all (supervisor, auditor, admin, no directory)."""
    try:
        found = eng.directory().user(user)
    except NotFoundError:
        return None
    if found is None or may_read_all(found):
        return None
    return list(found.departments)


def supervision_context(eng: Engine, user: str, department: str | None) -> dict[str, Any]:
    scope = _departments_of(eng, user)
    if scope is not None and department not in scope:
        department = scope[0] if scope else None
    report = eng.supervision_report(department=department)
    names = department_names(eng)
    cards = [
        c for c in eng.cards(state="open") if scope is None or c.department in scope or c.department is None
    ]
    if department:
        cards = [c for c in cards if c.department == department]
    by_phase: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for card in cards:
        by_phase[(names.get(card.department or "", card.department or "—"), card.step or "整件")][
            card.color
        ] += 1
    now = eng.now()
    overdue = []
    for task in eng.tasks(state="open", department=department, actor=user):
        due = (task.deadlines or {}).get("promised_due")
        if due and datetime.fromisoformat(due) < now:
            overdue.append({"task": task, "due": due, "left": (task.deadlines or {}).get("workdays_left")})
    overdue.sort(key=lambda r: r["due"])
    return {
        "report": report,
        "names": names,
        "phases": sorted(by_phase.items()),
        "records": [r for r in report["open_records"] if scope is None or r["department"] in scope],
        "overdue": overdue,
        "department": department,
        "choices": scope if scope is not None else sorted(names),
    }


def audit_context(path: Path, label: str) -> dict[str, Any]:
    """What the audit view shows for one file: findings, marks per element, checklists, the diagram."""
    report = audit_paths([str(path)], forms=str(packaged_forms()))
    marks: dict[str, dict[str, Any]] = {}
    problems = []
    for problem in report.validation:
        element = problem.location.element
        problems.append({"code": problem.code, "severity": problem.severity, "element": element,
                         "message": problem.message, "fix": problem.hint or ""})  # fmt: skip
        if element:
            marks.setdefault(element, {"findings": []})["findings"].append(problem.code)
    for finding in report.findings:
        problems.append({"code": finding.rule, "severity": finding.severity, "element": finding.element,
                         "message": finding.message, "fix": finding.fix})  # fmt: skip
        marks.setdefault(finding.element, {"findings": []})["findings"].append(
            f"{finding.rule} {finding.quoted}"
        )
    root = parse_bytes(path.read_bytes(), file=label).getroot()
    drawn = laid_out(root)
    xml = etree.tostring(drawn, encoding="unicode")
    return {"label": label, "report": report, "problems": problems, "marks": marks, "xml": xml}


def _audit_upload(body: bytes, label: str) -> JSONResponse:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.bpmn"
        path.write_bytes(body)
        try:
            context = audit_context(path, label)
        except HennanFlowError as exc:
            return JSONResponse({"title": str(exc).replace(str(path), label)})
    html = bytes(page("audit_result.html", **context).body).decode("utf-8")
    return JSONResponse({"html": html})


def router() -> APIRouter:
    web = APIRouter(prefix="/web", include_in_schema=False)

    @web.get("/supervision")
    def supervision(request: Request, user: SignedIn, department: str | None = None) -> Response:
        if user is None:
            return login_first(request)
        eng = engine(request)
        try:
            context = supervision_context(eng, user, department or None)
        except HennanFlowError as exc:
            return error_page(user, exc)
        return page("supervision.html", user=user, **context)

    @web.get("/audit")
    def audit(request: Request, user: SignedIn, bundle: str | None = None) -> Response:
        if user is None:
            return login_first(request)
        library = sorted(p.name for p in packaged_processes().glob("*.bpmn"))
        context: dict[str, Any] = {}
        if bundle is not None:
            if bundle not in library:
                return error_page(user, NotFoundError(f"没有名为 {bundle} 的流程包"))
            try:
                context = audit_context(packaged_processes() / bundle, bundle)
            except HennanFlowError as exc:
                return error_page(user, exc)
        return page("audit.html", user=user, library=library, chosen=bundle, **context)

    @web.post("/audit")
    async def upload(request: Request, user: SignedIn) -> Response:
        """An uploaded file (the request body, XML): the same view, as a fragment for the page."""
        if user is None:
            return JSONResponse({"title": "请先登录"}, status_code=401)
        body = await request.body()
        if len(body) > DEFAULT_MAX_BYTES:
            return JSONResponse({"title": "文件超过 10 MB"}, status_code=413)
        label = unquote(request.headers.get("x-file-name") or "上传的文件.bpmn")[:120]
        return await run_in_threadpool(_audit_upload, body, label)

    return web
