"""The service's OpenAPI 3.1 document: FastAPI's, with the problem responses of every operation.

The document is shipped in the package (`openapi.json` beside this module) and `GET /openapi.json`
serves the generated one, which a test compares with the shipped copy. Regenerate the copy with
`python -m hennan_flow.http.openapi` after changing a route.
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .problems import PROBLEM_TYPE, Problem

__all__ = ["ANONYMOUS", "document", "generated", "shipped"]

ANONYMOUS = {"/healthz", "/openapi.json"}
_PROBLEMS = {
    "400": "bad input",
    "401": "unauthenticated: no, an expired or a wrong-audience token, an unknown API key",
    "403": "not permitted (DESIGN §8)",
    "404": "not found",
    "409": "conflict, lost race or a move the state does not allow",
    "422": "form data the step's schema refuses (errors at their JSON pointers)",
    "413": "a request body over the service's limit (serve --max-body), refused before it is read",
}


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of `app`: security schemes, and problem responses on every operation."""
    doc = get_openapi(
        title=app.title, version="1", summary=app.summary, routes=app.routes, openapi_version="3.1.0"
    )
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    content = {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    components["responses"] = {
        f"Problem{code}": {"description": text, "content": content} for code, text in _PROBLEMS.items()
    }
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's validation error: ours is a 400 problem
            codes = ("400",) if path in ANONYMOUS else tuple(c for c in _PROBLEMS if c != "413")
            if "requestBody" in operation:
                codes += ("413",)
            for code in codes:
                responses[code] = {"$ref": f"#/components/responses/Problem{code}"}
            if path not in ANONYMOUS:
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
    return doc


def generated() -> str:
    """The document of a default app, as shipped (sorted keys, indented, one final newline)."""
    from . import create_app
    from .settings import Settings

    app = create_app("sqlite://", settings=Settings())
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def shipped() -> str:
    return files("hennan_flow.http").joinpath("openapi.json").read_text(encoding="utf-8")


if __name__ == "__main__":  # python -m hennan_flow.http.openapi [FILE]: regenerate the shipped copy
    target = sys.argv[1] if len(sys.argv) > 1 else str(files("hennan_flow.http").joinpath("openapi.json"))
    with open(target, "w", encoding="utf-8") as out:
        out.write(generated())
