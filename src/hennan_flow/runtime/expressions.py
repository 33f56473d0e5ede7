"""Designer expressions as BPMN files write them, and what the sandbox evaluates instead.

Two forms from other engines are read as the standard and those engines mean them:
- JUEL (`${day > 3}`, Flowable/Activiti/Camunda): translated into a sandbox expression (`juel.py`);
- an unquoted ISO-8601 timer value (`PT1H`, `R6/P1D`, `2026-12-07T09:00:00+08:00`): the quoted
  literal (`timers.iso_literal`).
`rewrite_tree` applies both to a copy of a document before SpiffWorkflow's parser reads it, so the
specs it builds hold sandbox expressions only; `code_problems` is the validate-time check of every
expression and every piece of designer code in a document (what deploy refuses).
"""

from __future__ import annotations

import ast
import copy
from typing import Any

from lxml import etree

from ..errors import ExpressionError, Location
from .juel import is_juel, translate
from .sandbox import SAFE_FUNCTIONS, Sandbox
from .timers import TIMER_TAGS, iso_literal, timer_value_error

__all__ = ["EXPRESSION_TAGS", "SPIFF_NS", "code_problems", "rewrite_tree", "sandbox_text"]

_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_B = f"{{{_BPMN_NS}}}"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

EXPRESSION_TAGS = (
    "conditionExpression",
    "timeDate",
    "timeDuration",
    "timeCycle",
    "loopCardinality",
    "completionCondition",
    "loopCondition",
    "condition",
)
_CONDITION_TAGS = frozenset({"conditionExpression", "completionCondition", "loopCondition", "condition"})
_CODE_TASKS = {"scriptTask": "script", "serviceTask": "service", "businessRuleTask": "business-rule"}
_SCRIPT_EXTENSIONS = ("preScript", "postScript")
_TIMER_HINT = (
    "write the timer as ISO-8601 (PT1H, P7D, R3/PT1H, 2026-12-07T09:00:00+08:00) "
    'or as an expression giving one (workdays(5), "P5D")'
)


def sandbox_text(text: str, tag: str) -> str:
    """The expression the sandbox evaluates for `text` written in a bpmn:`tag` element.

    ExpressionError when it is JUEL outside the subset, or an ISO-looking timer value that is
    not a valid one.
    """
    if is_juel(text):
        return translate(text, condition=tag in _CONDITION_TAGS)
    if tag in TIMER_TAGS:
        try:
            literal = iso_literal(text, tag)
        except ValueError as exc:
            raise ExpressionError(f"timer refused: {exc}", expression=text, hint=_TIMER_HINT) from None
        if literal is not None:
            return literal
    return text


def _expression_elements(root: etree._Element) -> list[tuple[etree._Element, str]]:
    """(element, tag) of every expression in a document, message correlation included."""
    found = [(el, tag) for tag in EXPRESSION_TAGS for el in root.iter(_B + tag)]
    # message correlation: the first child of each retrieval expression (messagePath/formalExpression)
    for cpre in root.iter(_B + "correlationPropertyRetrievalExpression"):
        found.extend((child, "correlation") for child in cpre if isinstance(child.tag, str))
    return found


def rewrite_tree(tree: etree._ElementTree) -> etree._ElementTree:
    """`tree`, or a copy of it whose expressions are the ones the sandbox evaluates (`sandbox_text`).

    Text that cannot be translated is left as written: validate reports it, and deploy refuses it.
    """

    def changes(root: etree._Element) -> list[tuple[etree._Element, str]]:
        out = []
        for el, tag in _expression_elements(root):
            text = el.text or ""
            if not text.strip():
                continue
            try:
                new = sandbox_text(text, tag)
            except ExpressionError:
                continue
            if new != text:
                out.append((el, new))
        return out

    if not changes(tree.getroot()):
        return tree
    work = copy.deepcopy(tree)
    for el, new in changes(work.getroot()):
        el.text = new
    return work


# -- static checks for validate/deploy --------------------------------------------------------


def code_problems(doc: Any, *, allow_scripts: bool = False) -> list[Any]:
    """Validate-time: refuse designer code (unless allowed) and every expression that cannot run.

    Code: script, service and business-rule tasks and SpiffWorkflow's pre- and post-scripts.
    Expressions: JUEL outside the subset, invalid ISO-8601 timer values (literal or constant), and
    whatever the sandbox would refuse.
    """
    from ..bpmn.diagnostics import Problem
    from ..bpmn.dialect import owner_id

    sandbox = Sandbox(
        functions={"workdays": lambda n: "", "natural_days": lambda n: "", "hours": lambda n: ""}
    )
    problems: list[Problem] = []
    root: etree._Element = doc.tree.getroot()

    def problem(code: str, exc: ExpressionError, el: etree._Element, element: str | None) -> Problem:
        return Problem(code, "error", exc.message, Location(doc.file, el.sourceline, element), exc.hint)

    def code_refused(message: str, el: etree._Element, element: str | None) -> Problem:
        return Problem(
            "SANDBOX-CODE-TASK",
            "error",
            message,
            Location(doc.file, el.sourceline, element),
            "model the work as a user step, or enable code tasks explicitly on the engine "
            "(Engine(allow_code_tasks=True) / --allow-code-tasks) after review",
        )

    def check_script(text: str, el: etree._Element, element: str | None) -> None:
        if text.strip():
            try:
                sandbox.check_script(text, element=element)
            except ExpressionError as exc:
                problems.append(problem("SANDBOX-EXPRESSION", exc, el, element))

    for local, what in _CODE_TASKS.items():
        for el in root.iter(_B + local):
            if not allow_scripts:
                message = f"{what} tasks are refused: they run designer code inside the portal"
                problems.append(code_refused(message, el, el.get("id")))
            elif local == "scriptTask":
                script = el.find(_B + "script")
                check_script((script.text or "") if script is not None else "", el, el.get("id"))
    for local in _SCRIPT_EXTENSIONS:
        for el in root.iter(f"{{{SPIFF_NS}}}{local}"):
            element = owner_id(el)
            if not allow_scripts:
                message = f"spiffworkflow:{local} is refused: it runs designer code inside the portal"
                problems.append(code_refused(message, el, element))
            else:
                check_script(el.text or "", el, element)
    for el, tag in _expression_elements(root):
        text = (el.text or "").strip()
        if not text:
            continue
        element = owner_id(el)
        try:
            python = sandbox_text(text, tag)
        except ExpressionError as exc:
            problems.append(problem("JUEL-UNSUPPORTED" if is_juel(text) else "TIMER-VALUE", exc, el, element))
            continue
        try:
            checked = sandbox.check(python, element=element)
        except ExpressionError as exc:
            problems.append(problem("SANDBOX-EXPRESSION", exc, el, element))
            continue
        if tag in TIMER_TAGS and _reads_nothing(checked):
            why = _constant_timer_error(sandbox, python, tag)
            if why is not None:
                error = ExpressionError(f"timer refused: {why}", expression=text, hint=_TIMER_HINT)
                problems.append(problem("TIMER-VALUE", error, el, element))
    return problems


def _reads_nothing(tree: ast.Expression) -> bool:
    """No case data read and only the pure built-in functions called: the value is known now."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and (id(node) not in called or node.id not in SAFE_FUNCTIONS):
            return False
    return True


def _constant_timer_error(sandbox: Sandbox, python: str, tag: str) -> str | None:
    try:
        value = sandbox.evaluate(python, {})
    except ExpressionError:
        return None  # fails the same way when the timer starts, naming the element
    return timer_value_error(tag, value)
