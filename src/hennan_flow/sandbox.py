"""The restricted evaluator for designer expressions (and, when enabled, scripts).

SpiffWorkflow evaluates every condition, timer, multi-instance and loop expression, conditional
event and correlation with bare `eval` and full builtins; its documented fix (RestrictedPython's
`safe_globals`) is bypassable (spiffworkflow-notes §4). So we never call `eval`: expressions are
parsed with `ast`, checked against an allow-list, and walked by a small interpreter that
- has no attribute access at all (the route to `__class__`, `__globals__`, frames, `str.format`),
  no names starting with `_`, no lambdas, comprehensions, f-strings, walrus or starred forms;
- calls only the functions it was given (domain functions such as `workdays(n)` and a few safe
  builtins), and only by name;
- bounds what an expression can build: its text, its syntax tree, the size of numbers, strings and
  lists it makes (no `10**10**8`, no `'x' * 10**10`).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from .errors import ExpressionError

__all__ = ["SAFE_FUNCTIONS", "Limits", "Sandbox", "code_problems"]


@dataclass(frozen=True)
class Limits:
    """How much an expression may say and build."""

    max_length: int = 2000  # characters of expression text
    max_nodes: int = 300  # syntax-tree nodes
    max_depth: int = 40  # syntax-tree nesting
    max_int_bits: int = 256  # integers up to ~1e77
    max_sequence: int = 10_000  # items in a list/tuple/dict, characters in a string
    max_script_statements: int = 200


def _get(mapping: Any, key: Any, default: Any = None) -> Any:
    if isinstance(mapping, Mapping):
        return mapping.get(key, default)
    if isinstance(mapping, (list, tuple)) and isinstance(key, int) and -len(mapping) <= key < len(mapping):
        return mapping[key]
    return default


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "float": float,
    "get": _get,
    "int": int,
    "len": len,
    "max": max,
    "min": min,
    "round": round,
    "sorted": sorted,
    "str": str,
    "sum": sum,
}

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_EXPR_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.IfExp, ast.Constant, ast.Name, ast.Load, ast.List, ast.Tuple, ast.Set, ast.Dict,
    ast.Subscript, ast.Slice, ast.Call, ast.keyword,
    *_BINOPS, *_CMPOPS,
)  # fmt: skip
_STMT_NODES = (ast.Module, ast.Assign, ast.AugAssign, ast.If, ast.Pass, ast.Expr, ast.Store)
_CONSTANTS = (str, int, float, bool, type(None))


class _Refused(Exception):
    """Internal: why an expression is refused (becomes an ExpressionError with the element)."""


class Sandbox:
    """Checks and evaluates designer expressions with only the given functions in reach."""

    def __init__(
        self, functions: Mapping[str, Callable[..., Any]] | None = None, limits: Limits | None = None
    ):
        self.functions: dict[str, Callable[..., Any]] = dict(SAFE_FUNCTIONS)
        if functions:
            self.functions.update(functions)
        self.limits = limits or Limits()
        self._checked: dict[tuple[str, str], ast.AST] = {}

    # -- checking ---------------------------------------------------------------------------
    def check(self, text: str, *, element: str | None = None) -> ast.Expression:
        """The checked syntax tree of an expression, or ExpressionError saying why not."""
        tree = self._parse(text, "eval", element)
        assert isinstance(tree, ast.Expression)
        return tree

    def check_script(self, text: str, *, element: str | None = None) -> ast.Module:
        tree = self._parse(text, "exec", element)
        assert isinstance(tree, ast.Module)
        return tree

    def _parse(self, text: str, mode: str, element: str | None) -> ast.AST:
        key = (mode, text)
        cached = self._checked.get(key)
        if cached is not None:
            return cached
        if not isinstance(text, str) or not text.strip():
            raise self._error("the expression is empty", text, element)
        if len(text) > self.limits.max_length:
            raise self._error(
                f"the expression is {len(text)} characters long, over the limit of {self.limits.max_length}",
                text,
                element,
            )
        try:
            tree = ast.parse(text.strip(), mode=mode)
        except SyntaxError as exc:
            raise self._error(f"not a valid expression ({exc.msg})", text, element) from exc
        except (RecursionError, MemoryError, ValueError) as exc:
            raise self._error("the expression is nested too deeply", text, element) from exc
        try:
            self._check_tree(tree, mode)
        except _Refused as why:
            raise self._error(str(why), text, element) from None
        if len(self._checked) > 4096:
            self._checked.clear()
        self._checked[key] = tree
        return tree

    def _check_tree(self, tree: ast.AST, mode: str) -> None:
        allowed = _EXPR_NODES + (_STMT_NODES if mode == "exec" else ())
        count = 0
        stack: list[tuple[ast.AST, int]] = [(tree, 0)]
        while stack:
            node, depth = stack.pop()
            count += 1
            if count > self.limits.max_nodes:
                raise _Refused(f"the expression is too large (over {self.limits.max_nodes} syntax nodes)")
            if depth > self.limits.max_depth:
                raise _Refused(f"the expression is nested too deeply (over {self.limits.max_depth} levels)")
            if not isinstance(node, allowed):
                raise _Refused(_why_not(node))
            if isinstance(node, ast.Name) and node.id.startswith("_"):
                raise _Refused(f"the name '{node.id}' is not allowed (names starting with _ are internal)")
            if isinstance(node, ast.Constant) and not isinstance(node.value, _CONSTANTS):
                raise _Refused(f"the constant {node.value!r} is not allowed")
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and len(node.value) > self.limits.max_sequence
            ):
                raise _Refused("a string constant is too long")
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in self.functions:
                    name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                    raise _Refused(
                        f"calling '{name}' is not allowed; allowed functions: "
                        f"{', '.join(sorted(self.functions))}"
                    )
                if any(k.arg is None for k in node.keywords):
                    raise _Refused("** arguments are not allowed")
                stack.extend((a, depth + 1) for a in node.args)
                stack.extend((k.value, depth + 1) for k in node.keywords)
                continue
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if not isinstance(t, ast.Name):
                        raise _Refused("a script may only assign to plain variable names")
            if isinstance(node, ast.Module) and len(node.body) > self.limits.max_script_statements:
                raise _Refused("the script is too long")
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    def _error(self, why: str, text: str, element: str | None) -> ExpressionError:
        from .errors import Location

        shown = text if len(text) <= 120 else text[:117] + "..."
        return ExpressionError(
            f"expression refused: {why}: {shown!r}",
            expression=text,
            hint="designer expressions may compare and combine case data (and, or, not, in, + - * /), "
            'index it (data["key"]) and call the allowed functions; nothing else',
            location=Location(element=element),
        )

    # -- evaluating -------------------------------------------------------------------------
    def evaluate(self, text: str, variables: Mapping[str, Any], *, element: str | None = None) -> Any:
        """Evaluate an expression over `variables` (case data); ExpressionError on refusal or failure."""
        tree = self.check(text, element=element)
        try:
            return self._eval(tree.body, variables)
        except ExpressionError:
            raise
        except _Refused as why:
            raise self._error(str(why), text, element) from None
        except NameError as exc:
            raise self._failed(f"{exc}", text, element) from None
        except (
            ArithmeticError,
            TypeError,
            ValueError,
            KeyError,
            IndexError,
            RecursionError,
            MemoryError,
        ) as exc:
            raise self._failed(f"{type(exc).__name__}: {exc}", text, element) from None

    def execute(self, text: str, variables: MutableMapping[str, Any], *, element: str | None = None) -> None:
        """Run a script (assignments, if/else) that reads and writes `variables`."""
        tree = self.check_script(text, element=element)
        try:
            self._exec_body(tree.body, variables)
        except _Refused as why:
            raise self._error(str(why), text, element) from None
        except NameError as exc:
            raise self._failed(f"{exc}", text, element) from None
        except (
            ArithmeticError,
            TypeError,
            ValueError,
            KeyError,
            IndexError,
            RecursionError,
            MemoryError,
        ) as exc:
            raise self._failed(f"{type(exc).__name__}: {exc}", text, element) from None

    def _failed(self, why: str, text: str, element: str | None) -> ExpressionError:
        from .errors import Location

        shown = text if len(text) <= 120 else text[:117] + "..."
        return ExpressionError(
            f"expression failed: {why}: {shown!r}",
            expression=text,
            hint="check that the case data holds the variables the expression reads, with the expected types",
            location=Location(element=element),
        )

    def _exec_body(self, body: list[ast.stmt], variables: MutableMapping[str, Any]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                value = self._eval(stmt.value, variables)
                for target in stmt.targets:
                    assert isinstance(target, ast.Name)
                    variables[target.id] = value
            elif isinstance(stmt, ast.AugAssign):
                assert isinstance(stmt.target, ast.Name)
                current = self._name(stmt.target.id, variables)
                variables[stmt.target.id] = self._binop(stmt.op, current, self._eval(stmt.value, variables))
            elif isinstance(stmt, ast.If):
                branch = stmt.body if self._eval(stmt.test, variables) else stmt.orelse
                self._exec_body(branch, variables)
            elif isinstance(stmt, ast.Expr):
                self._eval(stmt.value, variables)

    def _name(self, name: str, variables: Mapping[str, Any]) -> Any:
        if name in variables:
            return variables[name]
        raise NameError(f"name '{name}' is not in the case data")

    def _eval(self, node: ast.AST, v: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self._name(node.id, v)
        if isinstance(node, ast.BoolOp):
            result: Any = None
            for operand in node.values:
                result = self._eval(operand, v)
                if isinstance(node.op, ast.And) and not result:
                    return result
                if isinstance(node.op, ast.Or) and result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, v)
            if isinstance(node.op, ast.Not):
                return not operand
            value = -operand if isinstance(node.op, ast.USub) else +operand
            return self._bounded(value)
        if isinstance(node, ast.BinOp):
            return self._binop(node.op, self._eval(node.left, v), self._eval(node.right, v))
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, v)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self._eval(comparator, v)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self._eval(node.body, v) if self._eval(node.test, v) else self._eval(node.orelse, v)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [self._eval(e, v) for e in node.elts]
            built = (
                list(items)
                if isinstance(node, ast.List)
                else tuple(items)
                if isinstance(node, ast.Tuple)
                else set(items)
            )
            return self._bounded(built)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise _Refused("** in a dict is not allowed")
            return self._bounded(
                {
                    self._eval(k, v): self._eval(val, v)
                    for k, val in zip(node.keys, node.values, strict=True)
                    if k is not None
                }
            )
        if isinstance(node, ast.Subscript):
            container = self._eval(node.value, v)
            if not isinstance(container, (dict, list, tuple, str)):
                raise TypeError(f"cannot index a {type(container).__name__}")
            if isinstance(node.slice, ast.Slice):
                parts = [
                    None if p is None else self._eval(p, v)
                    for p in (node.slice.lower, node.slice.upper, node.slice.step)
                ]
                if not isinstance(container, (list, tuple, str)):
                    raise TypeError("only lists and strings can be sliced")
                return container[slice(*parts)]
            return container[self._eval(node.slice, v)]
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            func = self.functions[node.func.id]
            args = [self._eval(a, v) for a in node.args]
            kwargs = {k.arg: self._eval(k.value, v) for k in node.keywords if k.arg is not None}
            for a in (*args, *kwargs.values()):
                if callable(a):
                    raise _Refused("functions cannot be passed as values")
            return self._bounded(func(*args, **kwargs))
        raise _Refused(_why_not(node))

    def _binop(self, op: ast.operator, left: Any, right: Any) -> Any:
        limits = self.limits
        if isinstance(op, ast.Pow):
            if isinstance(left, int) and isinstance(right, int) and not isinstance(right, bool):
                if right < 0:
                    return self._bounded(float(left) ** right)
                bits = max(abs(left).bit_length(), 1) * right
                if abs(left) > 1 and bits > limits.max_int_bits:
                    raise _Refused(f"the number {left}**{right} is too large")
            elif isinstance(right, (int, float)) and abs(right) > 1000:
                raise _Refused("the exponent is too large")
        if isinstance(op, ast.Mult):
            for seq, n in ((left, right), (right, left)):
                repeated = isinstance(seq, (str, list, tuple)) and isinstance(n, int)
                if repeated and len(seq) * max(n, 0) > limits.max_sequence:
                    raise _Refused("the repeated sequence would be too long")
        joined = isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple))
        if isinstance(op, ast.Add) and joined and len(left) + len(right) > limits.max_sequence:
            raise _Refused("the joined sequence would be too long")
        return self._bounded(_BINOPS[type(op)](left, right))

    def _bounded(self, value: Any) -> Any:
        limits = self.limits
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value.bit_length() > limits.max_int_bits:
            raise _Refused("the number is too large")
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return value
        if isinstance(value, (str, list, tuple, set, dict)) and len(value) > limits.max_sequence:
            raise _Refused("the value is too long")
        return value


def _why_not(node: ast.AST) -> str:
    reasons: dict[type[ast.AST], str] = {
        ast.Attribute: 'attribute access (x.y) is not allowed; index case data with data["key"]',
        ast.Lambda: "lambda is not allowed",
        ast.ListComp: "comprehensions are not allowed",
        ast.SetComp: "comprehensions are not allowed",
        ast.DictComp: "comprehensions are not allowed",
        ast.GeneratorExp: "generator expressions are not allowed",
        ast.JoinedStr: "f-strings are not allowed",
        ast.NamedExpr: "assignment expressions (:=) are not allowed",
        ast.Starred: "starred arguments are not allowed",
        ast.Await: "await is not allowed",
        ast.Yield: "yield is not allowed",
        ast.YieldFrom: "yield is not allowed",
        ast.FunctionDef: "defining functions is not allowed",
        ast.AsyncFunctionDef: "defining functions is not allowed",
        ast.ClassDef: "defining classes is not allowed",
        ast.Import: "import is not allowed",
        ast.ImportFrom: "import is not allowed",
        ast.For: "loops are not allowed",
        ast.While: "loops are not allowed",
        ast.With: "with is not allowed",
        ast.Try: "try is not allowed",
        ast.Global: "global is not allowed",
        ast.Nonlocal: "nonlocal is not allowed",
        ast.Delete: "del is not allowed",
        ast.Raise: "raise is not allowed",
        ast.Return: "return is not allowed",
    }
    for kind, why in reasons.items():
        if isinstance(node, kind):
            return why
    if isinstance(node, (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift, ast.Invert, ast.MatMult)):
        return "bitwise operators are not allowed"
    return f"{type(node).__name__} is not allowed"


# -- static checks for validate/deploy ------------------------------------------------------

_CODE_TASKS = {"scriptTask": "script", "serviceTask": "service", "businessRuleTask": "business-rule"}


def code_problems(doc: Any, *, allow_scripts: bool = False) -> list[Any]:
    """Validate-time: refuse code tasks (unless allowed) and every expression the sandbox would refuse."""
    from lxml import etree

    from .diagnostics import Problem
    from .dialect import BPMN_NS, owner_id
    from .errors import Location

    b = f"{{{BPMN_NS}}}"
    sandbox = Sandbox(
        functions={"workdays": lambda n: "", "natural_days": lambda n: "", "hours": lambda n: ""}
    )
    problems: list[Problem] = []
    root: etree._Element = doc.tree.getroot()

    for local, what in _CODE_TASKS.items():
        for el in root.iter(b + local):
            if not allow_scripts:
                problems.append(
                    Problem(
                        "SANDBOX-CODE-TASK",
                        "error",
                        f"{what} tasks are refused: they run designer code inside the portal",
                        Location(doc.file, el.sourceline, el.get("id")),
                        "model the work as a user step, or enable code tasks explicitly on the engine "
                        "(allow_code_tasks=True) after review",
                    )
                )
            elif local == "scriptTask":
                script = el.find(b + "script")
                text = (script.text or "") if script is not None else ""
                if text.strip():
                    try:
                        sandbox.check_script(text, element=el.get("id"))
                    except ExpressionError as exc:
                        problems.append(
                            Problem(
                                "SANDBOX-EXPRESSION",
                                "error",
                                exc.message,
                                Location(doc.file, el.sourceline, el.get("id")),
                                exc.hint,
                            )
                        )
    expression_tags = (
        "conditionExpression",
        "timeDate",
        "timeDuration",
        "timeCycle",
        "loopCardinality",
        "completionCondition",
        "loopCondition",
        "condition",
    )
    for tag in expression_tags:
        for el in root.iter(b + tag):
            text = (el.text or "").strip()
            if not text:
                continue
            try:
                sandbox.check(text, element=owner_id(el))
            except ExpressionError as exc:
                problems.append(
                    Problem(
                        "SANDBOX-EXPRESSION",
                        "error",
                        exc.message,
                        Location(doc.file, el.sourceline, owner_id(el)),
                        exc.hint,
                    )
                )
    return problems
