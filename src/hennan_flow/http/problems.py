"""RFC 9457 problem details: every error the service answers, with the CLI's error code as `type`.

400 bad input, 401 unauthenticated, 403 not permitted (§8), 404 not found, 409 a conflict, a lost
race or a move the state does not allow, 422 form data the step's schema refuses (each error at its
JSON pointer). An error that is a bug answers 500 with type `internal`: no input reaches one.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from ..cli import error_code
from ..errors import (
    ConflictError,
    FindingsError,
    FormDataError,
    HennanFlowError,
    InputError,
    NotFoundError,
    PermissionDenied,
    SchemaOutOfDateError,
    StateError,
)
from .auth import Unauthenticated

__all__ = ["PROBLEM_TYPE", "FieldProblem", "Problem", "install", "problem"]

PROBLEM_TYPE = "application/problem+json"
log = logging.getLogger(__name__)

_TITLES = {
    400: "输入有误",
    401: "未认证",
    403: "无权操作",
    404: "未找到",
    405: "方法不允许",
    409: "冲突",
    413: "请求过大",
    422: "表单数据有误",
    500: "内部错误",
    503: "服务不可用",
}


class FieldProblem(BaseModel):
    pointer: str
    detail: str


class Problem(BaseModel):
    """An RFC 9457 problem: `type` is the CLI's error code (e.g. `not_found`, `form_data`)."""

    type: str
    title: str
    status: int
    detail: str
    hint: str | None = None
    errors: list[FieldProblem] | None = None


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    hint: str | None = None,
    errors: list[dict[str, str]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": code,
        "title": _TITLES.get(status, "错误"),
        "status": status,
        "detail": detail,
    }
    if hint:
        body["hint"] = hint
    if errors is not None:
        body["errors"] = errors
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def status_of(exc: HennanFlowError) -> int:
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError | StateError):
        return 409
    if isinstance(exc, FormDataError | FindingsError):
        return 422
    if isinstance(exc, SchemaOutOfDateError):
        return 503
    if isinstance(exc, InputError):
        return 400
    return 500


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc[1:]]  # loc[0]: body, query …
    return "/" + "/".join(parts) if parts else "/"


def install(app: FastAPI) -> None:
    """Answer every error as a problem document."""

    @app.exception_handler(HennanFlowError)
    async def engine_error(_request: Request, exc: HennanFlowError) -> JSONResponse:
        status = status_of(exc)
        if status == 500:
            log.error("internal error: %s", exc.message)
        errors = None
        if isinstance(exc, FormDataError):
            errors = [{"pointer": f.field, "detail": f.message} for f in exc.fields]
        return problem(status, error_code(exc), exc.message, hint=exc.hint, errors=errors)

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_request: Request, exc: Unauthenticated) -> JSONResponse:
        return problem(401, "unauthenticated", exc.message, hint=exc.hint)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"pointer": _pointer(tuple(e.get("loc", ()))), "detail": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem(400, "input", "the request does not have the expected shape", errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "input")
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return problem(500, "internal", f"internal error ({type(exc).__name__})", hint="report this as a bug")
