"""The restricted evaluator for designer expressions (and, when enabled, scripts).

SpiffWorkflow evaluates every condition, timer, multi-instance and loop expression, conditional
event and correlation with bare `eval` and full builtins; its documented fix (RestrictedPython's
`safe_globals`) is bypassable (spiffworkflow-notes §4). So we never call `eval`: expressions are
parsed with `ast`, checked against an allow-list, and walked by a small interpreter that
- has no attribute access at all (the route to `__class__`, `__globals__`, frames, `str.format`),
  no names starting with `_`, no lambdas, comprehensions, f-strings, walrus or starred forms, and
  no `%`-formatting of strings (`'%0999999999d' % 1` builds a gigabyte);
- calls only the functions it was given (domain functions such as `workdays(n)` and a few safe
  builtins, some of them narrowed: `sum` adds numbers only, `int` reads at most 100 characters,
  `round` keeps at most 100 digits), and only by name;
- bounds what an expression can build: its text, its syntax tree (size and nesting, so the
  interpreter's own recursion is shallow), the size of numbers (no `10**10**8`) and the full size
  of every string, list, tuple, set and dict it makes, nested values counted in full (no
  `'x' * 10**10`, no `[['x'] * 10000] * 10000`). Checking (what validate runs) already evaluates
  every part that reads no case data, so such a bomb is refused before it is deployed.
A refusal or a failure is an `ExpressionError` carrying the expression; failure messages never
quote case-data values (they may be personal data).
"""

from __future__ import annotations

import ast
import contextlib
import operator
import textwrap
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..errors import ExpressionError, HennanFlowError, InputError, Location
from .juel import JUEL_FUNCTIONS, original

__all__ = ["SAFE_FUNCTIONS", "Limits", "Sandbox", "expression_failed", "shown"]


@dataclass(frozen=True)
class Limits:
    """How much an expression may say and build."""

    max_length: int = 2000  # characters of expression text
    max_nodes: int = 300  # syntax-tree nodes
    max_depth: int = 40  # syntax-tree nesting (bounds the interpreter's recursion)
    max_int_bits: int = 256  # integers up to ~1e77
    max_sequence: int = 10_000  # items and characters in any value built, nested values counted in full
    max_script_statements: int = 200


_MAX_DIGITS = 100  # characters int() reads, digits round() keeps


def _get(mapping: Any, key: Any, default: Any = None) -> Any:
    if isinstance(mapping, Mapping):
        return mapping.get(key, default)
    if isinstance(mapping, (list, tuple)) and isinstance(key, int) and -len(mapping) <= key < len(mapping):
        return mapping[key]
    return default


def _int(value: Any = 0, *base: int) -> int:
    if isinstance(value, str) and len(value) > _MAX_DIGITS:
        raise _Refused(f"int() reads numbers of at most {_MAX_DIGITS} characters")
    return int(value, *base)


def _round(number: Any, ndigits: int | None = None) -> Any:
    if ndigits is None:
        return round(number)
    if not isinstance(ndigits, int) or abs(ndigits) > _MAX_DIGITS:
        raise _Refused(f"round() keeps between -{_MAX_DIGITS} and {_MAX_DIGITS} digits")
    return round(number, ndigits)


def _sum(values: Any, start: Any = 0) -> Any:
    items = list(values)
    if not all(isinstance(x, (int, float)) for x in (*items, start)):
        raise TypeError("sum() adds numbers only")
    return sum(items, start)


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "float": float,
    "get": _get,
    "int": _int,
    "len": len,
    "max": max,
    "min": min,
    "round": _round,
    "sorted": sorted,
    "str": str,
    "sum": _sum,
    **JUEL_FUNCTIONS,  # what translated JUEL expressions call (juel.py)
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
# folded part by part: short-circuits would skip a bomb in an operand that validate must still see
_NOT_FOLDED = (ast.Constant, ast.Slice, ast.BoolOp, ast.IfExp)
_SIZED = (str, list, tuple, set, frozenset, dict)


class _Refused(Exception):
    """Internal: why an expression is refused (becomes an ExpressionError with the element)."""


# what evaluating allowed syntax may raise (wrong types, missing keys, …): a failure, not a refusal
_FAILURES = (
    ArithmeticError,
    AttributeError,
    LookupError,
    NameError,
    RecursionError,
    MemoryError,
    TypeError,
    ValueError,
)


def _size(value: Any, limit: int) -> int:
    """Items plus characters in `value`, nested values counted in full; _Refused once over `limit`."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            stack.extend(item)
        if total > limit:
            raise _Refused(f"the value would be too large (over {limit} items and characters)")
    return total


class Sandbox:
    """Checks and evaluates designer expressions with only the given functions in reach.

    Usage::

        sandbox = Sandbox(functions={"workdays": workdays})
        sandbox.evaluate('amount > 100 and kind in ["a", "b"]', case_data, element="gateway_1")
    """

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
        """The checked syntax tree of a script (assignments, if/else, expressions)."""
        tree = self._parse(text, "exec", element)
        assert isinstance(tree, ast.Module)
        return tree

    def _parse(self, text: str, mode: str, element: str | None) -> ast.AST:
        if not isinstance(text, str) or not text.strip():
            raise self._error("the expression is empty", str(text or ""), element)
        key = (mode, text)
        cached = self._checked.get(key)
        if cached is not None:
            return cached
        if len(text) > self.limits.max_length:
            raise self._error(
                f"the expression is {len(text)} characters long, over the limit of {self.limits.max_length}",
                text,
                element,
            )
        source = text.strip() if mode == "eval" else textwrap.dedent(text).strip()
        try:
            tree = ast.parse(source, mode=mode)
        except SyntaxError as exc:
            raise self._error(f"not a valid expression ({exc.msg})", text, element) from None
        except (RecursionError, MemoryError, ValueError):
            raise self._error("the expression is nested too deeply", text, element) from None
        try:
            self._check_tree(tree, mode)
            self._fold_constants(tree)
        except _Refused as why:
            raise self._error(str(why), text, element) from None
        if len(self._checked) > 4096:
            self._checked.clear()
        self._checked[key] = tree
        return tree

    def _check_tree(self, tree: ast.AST, mode: str) -> None:
        limits = self.limits
        allowed = _EXPR_NODES + (_STMT_NODES if mode == "exec" else ())
        count = 0
        stack: list[tuple[ast.AST, int]] = [(tree, 0)]
        while stack:
            node, depth = stack.pop()
            count += 1
            if count > limits.max_nodes:
                raise _Refused(f"the expression is too large (over {limits.max_nodes} syntax nodes)")
            if depth > limits.max_depth:
                raise _Refused(f"the expression is nested too deeply (over {limits.max_depth} levels)")
            if not isinstance(node, allowed):
                raise _Refused(_why_not(node))
            if isinstance(node, ast.Name) and node.id.startswith("_"):
                raise _Refused(f"the name '{node.id}' is not allowed (names starting with _ are internal)")
            if isinstance(node, ast.Constant):
                value = node.value
                if not isinstance(value, _CONSTANTS):
                    raise _Refused(f"the constant {value!r} is not allowed")
                if isinstance(value, str) and len(value) > limits.max_sequence:
                    raise _Refused("a string constant is too long")
                if isinstance(value, int) and value.bit_length() > limits.max_int_bits:
                    raise _Refused("a number constant is too large")
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in self.functions:
                    name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                    listed = sorted(f for f in self.functions if f not in JUEL_FUNCTIONS)
                    raise _Refused(f"calling '{name}' is not allowed; allowed functions: {', '.join(listed)}")
                if any(k.arg is None for k in node.keywords):
                    raise _Refused("** arguments are not allowed")
                stack.extend((a, depth + 1) for a in node.args)
                stack.extend((k.value, depth + 1) for k in node.keywords)
                continue
            if isinstance(node, ast.Dict) and any(k is None for k in node.keys):
                raise _Refused("** in a dict is not allowed")
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if not all(isinstance(t, ast.Name) for t in targets):
                    raise _Refused("a script may only assign to plain variable names")
            if isinstance(node, ast.Module) and len(node.body) > limits.max_script_statements:
                raise _Refused("the script is too long")
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    def _fold_constants(self, tree: ast.AST) -> None:
        """Evaluate every part that reads no case data, so validate refuses `10**10**8` before it runs."""
        stack = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.expr) and not isinstance(node, _NOT_FOLDED) and self._is_constant(node):
                # a failure (1/0) fails the same way at run time, where the error names the element
                with contextlib.suppress(*_FAILURES):
                    self._eval(node, {})
            else:
                stack.extend(ast.iter_child_nodes(node))

    def _is_constant(self, node: ast.expr) -> bool:
        """No case data read and only the built-in (pure) functions called: the value never changes."""
        called = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                name = sub.func.id if isinstance(sub.func, ast.Name) else None
                if name is None or self.functions.get(name) is not SAFE_FUNCTIONS.get(name):
                    return False  # a domain function (workdays reads the clock) or no function at all
                called.add(id(sub.func))
        return not any(isinstance(sub, ast.Name) and id(sub) not in called for sub in ast.walk(node))

    # -- evaluating -------------------------------------------------------------------------
    def evaluate(self, text: str, variables: Mapping[str, Any], *, element: str | None = None) -> Any:
        """Evaluate an expression over `variables` (case data); ExpressionError on refusal or failure."""
        tree = self.check(text, element=element)
        return self._guarded(lambda: self._eval(tree.body, variables), text, element)

    def execute(self, text: str, variables: MutableMapping[str, Any], *, element: str | None = None) -> None:
        """Run a script (assignments, if/else) that reads and writes `variables`."""
        tree = self.check_script(text, element=element)
        self._guarded(lambda: self._exec_body(tree.body, variables), text, element)

    def _guarded(self, action: Callable[[], Any], text: str, element: str | None) -> Any:
        try:
            return action()
        except _Refused as why:
            raise self._error(str(why), text, element) from None
        except HennanFlowError as exc:
            if type(exc) is not InputError:  # e.g. CalendarRangeError: the caller handles it
                raise
            raise expression_failed(exc.message, text, element, hint=exc.hint) from None
        except _FAILURES as exc:
            raise expression_failed(_describe(exc), text, element) from None

    def _error(self, why: str, text: str, element: str | None) -> ExpressionError:
        return ExpressionError(
            f"expression refused: {why}: {shown(text)}",
            expression=original(text) or text,
            hint="designer expressions may compare and combine case data (and, or, not, in, + - * /), "
            'index it (data["key"]) and call the allowed functions; nothing else',
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
            return self._bounded(-operand if isinstance(node.op, ast.USub) else +operand)
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
        if isinstance(node, ast.List):
            return self._bounded([self._eval(e, v) for e in node.elts])
        if isinstance(node, ast.Tuple):
            return self._bounded(tuple(self._eval(e, v) for e in node.elts))
        if isinstance(node, ast.Set):
            return self._bounded({self._eval(e, v) for e in node.elts})
        if isinstance(node, ast.Dict):
            pairs = [
                (self._eval(k, v), self._eval(x, v)) for k, x in zip(node.keys, node.values, strict=True) if k
            ]
            return self._bounded(dict(pairs))
        if isinstance(node, ast.Subscript):
            container = self._eval(node.value, v)
            if not isinstance(container, (dict, list, tuple, str)):
                raise TypeError(f"cannot index a {type(container).__name__}")
            if isinstance(node.slice, ast.Slice):
                if isinstance(container, dict):
                    raise TypeError("only lists and strings can be sliced")
                bounds = (node.slice.lower, node.slice.upper, node.slice.step)
                return self._bounded(
                    container[slice(*(None if b is None else self._eval(b, v) for b in bounds))]
                )
            return container[self._eval(node.slice, v)]
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            func = self.functions[node.func.id]
            args = [self._eval(a, v) for a in node.args]
            kwargs = {k.arg: self._eval(k.value, v) for k in node.keywords if k.arg is not None}
            if any(callable(a) for a in (*args, *kwargs.values())):
                raise _Refused("functions cannot be passed as values")
            return self._bounded(func(*args, **kwargs))
        raise _Refused(_why_not(node))

    def _binop(self, op: ast.operator, left: Any, right: Any) -> Any:
        limits = self.limits
        if isinstance(op, ast.Mod) and isinstance(left, str):
            raise _Refused("%-formatting of strings is not allowed")
        if isinstance(op, ast.Pow):
            if isinstance(left, int) and isinstance(right, int):
                if right < 0:
                    return self._bounded(float(left) ** right)
                if abs(left) > 1 and (abs(left).bit_length() - 1) * right >= limits.max_int_bits:
                    raise _Refused("the power would be too large")
            elif isinstance(right, (int, float)) and abs(right) > 1000:
                raise _Refused("the exponent is too large")
        # refuse before building: the result would be checked only once it exists
        size = limits.max_sequence
        if isinstance(op, ast.Mult):
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, _SIZED) and isinstance(n, int) and n > 1 and _size(seq, size) * n > size:
                    raise _Refused("the repeated value would be too large")
        sized = isinstance(left, _SIZED) and isinstance(right, _SIZED)
        if isinstance(op, ast.Add) and sized and _size(left, size) + _size(right, size) > size:
            raise _Refused("the joined value would be too large")
        return self._bounded(_BINOPS[type(op)](left, right))

    def _bounded(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value.bit_length() > self.limits.max_int_bits:
            raise _Refused("the number is too large")
        if isinstance(value, complex):
            raise _Refused("complex numbers are not allowed")
        if isinstance(value, _SIZED):
            _size(value, self.limits.max_sequence)
        return value


def shown(text: str) -> str:
    """How messages quote an expression: its repr cut at 120 characters; a translated JUEL expression
    as the JUEL the designer wrote."""
    written = original(text)
    if written is not None:
        return "JUEL " + shown(written)
    return repr(text if len(text) <= 120 else text[:117] + "...")


def expression_failed(
    why: str, text: str, element: str | None, *, hint: str | None = None
) -> ExpressionError:
    """The error for an allowed expression that failed (or gave a value of the wrong kind) at run time."""
    return ExpressionError(
        f"expression failed: {why}: {shown(text)}",
        expression=original(text) or text,
        hint=hint
        or "check that the case data holds the variables the expression reads, with the expected types",
        location=Location(element=element),
    )


def _describe(exc: BaseException) -> str:
    """Why evaluation failed, without quoting values (case data may be personal data)."""
    if isinstance(exc, (NameError, ZeroDivisionError)):
        return str(exc)
    if isinstance(exc, OverflowError):
        return "a number is too large"
    if isinstance(exc, TypeError):
        return f"TypeError: {exc}"  # Python's messages name types, not values
    if isinstance(exc, KeyError):
        return "KeyError: a key is not in the data"
    if isinstance(exc, IndexError):
        return "IndexError: an index is out of range"
    if isinstance(exc, (RecursionError, MemoryError)):
        return "the expression needs too much memory or nesting"
    return f"{type(exc).__name__} (the value is not shown: it may be personal data)"


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
