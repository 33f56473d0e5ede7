"""The workbench pages (server-rendered, Jinja2), an APIRouter the HTTP service mounts under /web.

Same authentication as the API (`http.deps.current_user`: the login page stores the API key in an
HttpOnly, SameSite=Strict cookie the service accepts) and the same roles: every read and write is
the engine's, as the signed-in directory user, so DESIGN §8 decides what each user sees and may do.

* `/web/login` — sign in with an API key;
* `/web/queue` — the work queue of a department (`?department=`) or the user's own (`?mine=1`):
  ready and paused steps by deadline, working days left, card colour, claim/release;
* `/web/tasks/{id}` — the step's form (the accessible fragment of `stepforms`), submitted as JSON to
  `/web/tasks/{id}/complete`; a refusal comes back as the fragment with the errors at their fields;
* `/web/cases/{id}` — the diagram (bpmn-js; a generated layout when the file has no BPMN DI) with
  each element's state, department, deadline and card colour, the timeline beside it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from lxml import etree
from starlette.concurrency import run_in_threadpool

from ..bpmn.layout import laid_out
from ..bpmn.xmlsafe import parse_bytes
from ..engine import deployments
from ..engine.facade import Engine
from ..entities import Task
from ..errors import (
    ConflictError,
    FormDataError,
    HennanFlowError,
    NotFoundError,
    PermissionDenied,
    StateError,
)
from ..http.auth import Unauthenticated
from ..http.deps import SESSION_COOKIE, current_user, engine
from ..report.supervision_common import RECORD_STATES
from . import STATIC

__all__ = [
    "SignedIn",
    "department_names",
    "diagram_xml",
    "element_marks",
    "error_page",
    "login_first",
    "page",
    "router",
    "signed_in",
]

STATE_TEXT = {"completed": "已完成", "ready": "待办", "paused": "已暂停", "cancelled": "已取消"}
CARD_TEXT = {"yellow": "黄牌", "red": "红牌"}
EVENT_TEXT = {
    "case.started": "受理",
    "case.completed": "办结",
    "case.terminated": "终止",
    "case.error": "出错",
    "task.ready": "步骤待办",
    "task.claimed": "认领",
    "task.released": "退回队列",
    "task.assigned": "指派",
    "task.transferred": "转办",
    "task.completed": "步骤办结",
    "task.paused": "暂停",
    "task.resumed": "恢复",
    "task.extended": "延期",
    "task.pause_overrun": "暂停超时",
    "card.issued": "亮牌",
    "card.false_alarm": "误报撤牌",
    "commitment.signed": "签署告知承诺",
    "licence.unverified": "电子证照待核验",
    "licence.verified": "电子证照已核验",
}
_RANK = {"red": 2, "yellow": 1}
BEIJING = ZoneInfo("Asia/Shanghai")


@cache
def _env() -> Environment:
    env = Environment(loader=PackageLoader("hennan_flow.web", "templates"), autoescape=select_autoescape())
    env.globals.update(
        STATE_TEXT=STATE_TEXT, CARD_TEXT=CARD_TEXT, EVENT_TEXT=EVENT_TEXT, RECORD_TEXT=RECORD_STATES
    )
    env.filters["beijing"] = lambda at, fmt="%Y-%m-%d %H:%M": at.astimezone(BEIJING).strftime(fmt)
    return env


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env().get_template(name).render(**context), status_code=status)


def signed_in(request: Request) -> str | None:
    """The signed-in directory user, or None (the pages then ask to log in)."""
    try:
        return current_user(request)
    except Unauthenticated:
        return None


SignedIn = Annotated[str | None, Depends(signed_in)]


def login_first(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/web/login?next={request.url.path}", status_code=303)


def error_page(user: str, exc: HennanFlowError) -> HTMLResponse:
    return page("error.html", _status(exc), user=user, message=str(exc), hint=getattr(exc, "hint", None))


def _status(exc: HennanFlowError) -> int:
    for kind, status in (
        (PermissionDenied, 403),
        (NotFoundError, 404),
        (ConflictError, 409),
        (StateError, 409),
    ):
        if isinstance(exc, kind):
            return status
    return 400


def _cards_by_task(eng: Engine, case: str | None = None) -> dict[str, str]:
    """Open cards' colour per step instance (red over yellow)."""
    out: dict[str, str] = {}
    for card in eng.cards(state="open", case=case):
        if card.task and _RANK[card.color] > _RANK.get(out.get(card.task, ""), 0):
            out[card.task] = card.color
    return out


def _due(task: Task) -> tuple[str | None, int | None]:
    d = task.deadlines or {}
    return (d.get("promised_due") or d.get("legal_due"), d.get("workdays_left"))


def department_names(eng: Engine) -> dict[str, str]:
    """Department code → its name in the directory in force (none stored: no names)."""
    try:
        return {d.code: d.name for d in eng.directory().departments.values()}
    except NotFoundError:
        return {}


def element_marks(eng: Engine, case_id: str, actor: str) -> dict[str, dict[str, Any]]:
    """Per BPMN element id, what the diagram shows: state, department (its directory name),
    deadline (local date) and open card colour, from `Engine.element_states` (§8: PermissionDenied
    unless `actor` may read the case)."""
    names = department_names(eng)
    marks: dict[str, dict[str, Any]] = {}
    for element, found in eng.element_states(case_id, actor=actor).items():
        deadlines = found.get("deadlines") or {}
        due = deadlines.get("promised_due") or deadlines.get("legal_due")
        department = found.get("department")
        marks[element] = {
            "name": found.get("name"),
            "state": found.get("state"),
            "department": names.get(department or "", department),
            "deadline": due[:10] if due else None,
            "card": found.get("card"),
        }
    return marks


def router() -> APIRouter:
    """The workbench's routes (mount with `create_app(..., routers=[router()])`)."""
    web = APIRouter(prefix="/web", include_in_schema=False)

    @web.get("/static/{path:path}")
    def static(path: str) -> Response:
        target = (STATIC / path).resolve()
        if not target.is_file() or not target.is_relative_to(STATIC.resolve()):
            return Response(status_code=404)
        return FileResponse(target, headers={"Cache-Control": "max-age=3600"})

    @web.get("/login")
    def login_form(user: SignedIn, next: str = "/web/queue") -> Response:
        return page("login.html", user=user, next=_safe_next(next), error=None)

    @web.post("/login")
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))  # no multipart dependency
        key = (form.get("key") or [""])[0].strip()
        target = _safe_next((form.get("next") or ["/web/queue"])[0])
        user = engine(request).api_keys.user_of(key) if key else None
        if user is None:
            return page("login.html", user=None, next=target, error="密钥无效或已吊销，请核对后重试。")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            key,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @web.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/web/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @web.get("/queue")
    def queue(
        request: Request, user: SignedIn, department: str | None = None, mine: bool = False
    ) -> Response:
        if user is None:
            return login_first(request)
        eng = engine(request)
        try:
            tasks = eng.tasks(
                department=department or None,
                state="open",
                assignee=user if mine else None,
                actor=user,
            )
            cards = _cards_by_task(eng)
        except HennanFlowError as exc:
            return error_page(user, exc)
        tasks.sort(key=lambda t: (_due(t)[0] is None, _due(t)[0] or "", t.ready_at))
        rows = [{"task": t, "due": _due(t)[0], "left": _due(t)[1], "card": cards.get(t.id)} for t in tasks]
        names = department_names(eng)
        departments = sorted({t.department for t in eng.tasks(state="open", actor=user) if t.department})
        return page(
            "queue.html",
            user=user,
            rows=rows,
            department=department,
            mine=mine,
            departments=[(d, names.get(d, d)) for d in departments],
            names=names,
        )

    @web.post("/tasks/{task_id}/claim")
    def claim(request: Request, user: SignedIn, task_id: str) -> Response:
        return _claim_or_release(request, user, task_id, release=False)

    @web.post("/tasks/{task_id}/release")
    def release(request: Request, user: SignedIn, task_id: str) -> Response:
        return _claim_or_release(request, user, task_id, release=True)

    @web.post("/tasks/{task_id}/complete")
    async def complete(request: Request, user: SignedIn, task_id: str) -> Response:
        """The step form's JSON; the engine's work runs in the thread pool, off the event loop."""
        if user is None:
            return JSONResponse({"title": "请先登录"}, status_code=401)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"title": "提交须为 JSON"}, status_code=415)  # no cross-site form posts
        try:
            data = await request.json()
        except ValueError:
            return JSONResponse({"title": "提交的不是合法的 JSON"}, status_code=400)
        return await run_in_threadpool(_complete, engine(request), user, task_id, data)

    @web.get("/tasks/{task_id}")
    def task_page(request: Request, user: SignedIn, task_id: str) -> Response:
        if user is None:
            return login_first(request)
        eng = engine(request)
        try:
            task = eng.task(task_id)
            eng.case(task.case, actor=user)  # §8: may this user read the case?
            fragment = eng.render_form(task_id)
        except HennanFlowError as exc:
            return error_page(user, exc)
        return page("task.html", user=user, task=task, fragment=fragment, due=_due(task))

    @web.get("/cases/{case_id}")
    def case_page(request: Request, user: SignedIn, case_id: str) -> Response:
        if user is None:
            return login_first(request)
        eng = engine(request)
        try:
            marks = element_marks(eng, case_id, user)
            case = eng.case(case_id, actor=user)
        except HennanFlowError as exc:
            return error_page(user, exc)
        return page(
            "case.html",
            user=user,
            case=case,
            marks_json=json.dumps(marks, ensure_ascii=False).replace("</", "<\\/"),
            marks=marks,
        )

    @web.get("/cases/{case_id}/diagram.bpmn")
    def diagram(request: Request, user: SignedIn, case_id: str) -> Response:
        if user is None:
            return Response(status_code=401)
        eng = engine(request)
        try:
            eng.case(case_id, actor=user)  # §8 before the model is shown
            with eng.context.read() as session:
                text = deployments.bpmn_of_case(session, case_id)
        except HennanFlowError as exc:
            return error_page(user, exc)
        return Response(diagram_xml(text), media_type="application/xml")

    return web


def _claim_or_release(request: Request, user: str | None, task_id: str, *, release: bool) -> Response:
    if user is None:
        return login_first(request)
    eng = engine(request)
    try:
        (eng.release_task if release else eng.claim_task)(task_id, actor=user)
    except HennanFlowError as exc:
        return error_page(user, exc)
    back = urlsplit(request.headers.get("referer") or "")
    return RedirectResponse(_safe_next(back.path + (f"?{back.query}" if back.query else "")), status_code=303)


def _complete(eng: Engine, user: str, task_id: str, data: Any) -> JSONResponse:
    try:
        done = eng.complete_task(task_id, data=data, actor=user)
    except FormDataError as exc:
        fragment = eng.render_form(task_id, errors=exc.fields, data=data if isinstance(data, dict) else None)
        # 200, not 422: the page expects refusals (a 4xx fetch is a console error in browsers)
        return JSONResponse({"refused": True, "title": "提交未通过校验", "html": fragment})
    except HennanFlowError as exc:
        return JSONResponse({"title": str(exc)}, status_code=_status(exc))
    return JSONResponse(
        {
            "refused": False,
            "case": done.case,
            "next": [t.id for t in done.ready],
            "location": f"/web/cases/{done.case}",
        }
    )


def diagram_xml(text: str) -> bytes:
    """The BPMN a case page draws: the stored text, with a generated layout when it has no DI."""
    root = parse_bytes(text.encode("utf-8"), file="definition").getroot()
    drawn = laid_out(root)
    return (
        text.encode("utf-8")
        if drawn is root
        else etree.tostring(drawn, xml_declaration=True, encoding="UTF-8")
    )


def _safe_next(target: str) -> str:
    """Only a path of this site (never another host) after login."""
    return target if target.startswith("/web/") and not target.startswith("//") else "/web/queue"
