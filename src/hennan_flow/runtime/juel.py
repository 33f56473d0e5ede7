"""A subset of JUEL (the Java Unified Expression Language of Flowable, Activiti and Camunda models)
translated at deploy into the sandbox's expressions.

Models exported from Flowable/Activiti-based tools (the approval modules of RuoYi and yudao among
them) write conditions as `${day > 3}`, `${deptLeaderApproved == 'true'}` or `${!approved}`.
SpiffWorkflow evaluates Python, so `translate` rewrites such an expression into a sandbox
expression before SpiffWorkflow sees it. The subset (docs/bundles.md, "JUEL expressions"):

- one `${…}` or `#{…}` holding the whole text (no text around it);
- names, and dotted names `a.b.c` read as data lookups (`get(get(a, "b"), "c")`: a missing key or
  a missing `a.b` gives null, as JUEL's map resolver does; never attribute access);
- string (single or double quoted, `\\'` `\\"` `\\\\` escapes), number and boolean literals, null;
- comparisons `== != < > <= >=` and `eq ne lt gt le ge`, with JUEL's coercions (`juel_compare`:
  `true == 'true'`, `'5' > 3`, null compares false);
- `&& || !` and `and or not` over JUEL's boolean coercion (`juel_bool`: `'true'` is true, null
  and `''` false), `empty x` (`juel_empty`), parentheses.

Anything else (arithmetic, `?:`, `[…]`, function and method calls such as
`execution.getVariable('x')`, composite text) is refused with an ExpressionError that names JUEL
and the part it cannot translate. The translated text ends in a comment holding the JUEL original
(`juel_compare('>', day, 3)  # JUEL: ${day>3}`), so an error at run time can quote what the
designer wrote (`original`).
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ExpressionError

__all__ = ["JUEL_FUNCTIONS", "MARK", "is_juel", "original", "translate"]

MARK = "  # JUEL: "
_HINT = (
    "write the condition with the JUEL subset hennan_flow translates (names, a.b lookups, literals, "
    "== != < > <= >= eq ne lt gt le ge, && || ! and or not, empty, parentheses) "
    "or as a sandbox expression; see docs/bundles.md, JUEL expressions"
)


def is_juel(text: str) -> bool:
    """True when `text` is written in JUEL (`${…}` or `#{…}` at its start)."""
    head = text.lstrip()
    return head.startswith(("${", "#{"))


def original(text: str) -> str | None:
    """The JUEL a translated expression came from (None: not a translation)."""
    head, sep, tail = text.partition(MARK)
    return tail if sep and head else None


def translate(text: str, *, condition: bool = False) -> str:
    """The sandbox expression for a JUEL expression (ExpressionError naming JUEL when outside the subset).

    `condition`: the value decides a flow, a loop or an event, so it is coerced to a boolean the
    way JUEL does (a JUEL engine refuses a non-boolean condition; `'false'` must not be true).
    """
    tokens = _Lexer(text).tokens()
    parser = _Parser(tokens, text)
    node = parser.expression()
    parser.expect_end()
    python = node.python
    if condition and not node.boolean:
        python = f"juel_bool({python})"
    return python + MARK + " ".join(text.split())


# -- lexing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # name, string, number, op, end
    text: str
    value: Any = None


_KEYWORD_OPS = {
    "and": "&&",
    "or": "||",
    "not": "!",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "empty": "empty",
}
_UNSUPPORTED_WORDS = {
    "div": "arithmetic (div)",
    "mod": "arithmetic (mod)",
    "instanceof": "instanceof",
}
_LITERAL_WORDS = {"true": True, "false": False, "null": None}
_OPERATORS: tuple[str, ...] = (
    "==",
    "!=",
    "<=",
    ">=",
    "&&",
    "||",
    "->",
    "+=",
    "<",
    ">",
    "!",
    "(",
    ")",
    ".",
    "[",
    "]",
)
_OPERATORS += ("+", "-", "*", "/", "%", "?", ":", ",", ";", "=", "{", "}")
_NUMBER = re.compile(r"(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text

    def tokens(self) -> list[_Token]:
        text = self.text.strip()
        if not text.startswith(("${", "#{")):
            raise _refused("it does not start with ${ or #{", self.text)
        out: list[_Token] = []
        pos = 2
        depth = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                raise _refused("the closing } is missing", self.text)
            char = text[pos]
            if char == "}" and depth == 0:
                rest = text[pos + 1 :].strip()
                if rest:
                    raise _refused(
                        f"text after the closing }} ({_cut(rest)}): composite expressions", self.text
                    )
                out.append(_Token("end", "}"))
                return out
            if char in "'\"":
                value, pos = self._string(text, pos)
                out.append(_Token("string", value, value))
                continue
            number = _NUMBER.match(text, pos)
            if number and (char.isdigit() or char == "."):
                literal = number.group(0)
                number_value = float(literal) if any(c in literal for c in ".eE") else int(literal)
                if isinstance(number_value, float) and not math.isfinite(number_value):
                    raise _refused(f"the number {literal} is out of range", self.text)
                out.append(_Token("number", literal, number_value))
                pos = number.end()
                continue
            name = _NAME.match(text, pos)
            if name:
                out.append(_Token("name", name.group(0)))
                pos = name.end()
                continue
            for op in _OPERATORS:
                if text.startswith(op, pos):
                    depth += {"{": 1, "}": -1}.get(op, 0)
                    out.append(_Token("op", op))
                    pos += len(op)
                    break
            else:
                raise _refused(f"the character {char!r}", self.text)

    def _string(self, text: str, pos: int) -> tuple[str, int]:
        quote = text[pos]
        pos += 1
        chars: list[str] = []
        while pos < len(text):
            char = text[pos]
            if char == "\\" and pos + 1 < len(text) and text[pos + 1] in "'\"\\":
                chars.append(text[pos + 1])
                pos += 2
                continue
            if char == quote:
                return "".join(chars), pos + 1
            chars.append(char)
            pos += 1
        raise _refused("a string literal is not closed", self.text)


# -- parsing and translating ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    python: str
    boolean: bool = False  # the value is a bool already (a comparison, and/or/not, empty)


_COMPARISONS = {"==", "!=", "<", ">", "<=", ">="}


class _Parser:
    def __init__(self, tokens: list[_Token], text: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.text = text

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def op(self) -> str | None:
        """The operator at the current token (keyword operators spelt as their symbols)."""
        token = self.peek()
        if token.kind == "op":
            return token.text
        if token.kind == "name" and token.text in _KEYWORD_OPS:
            return _KEYWORD_OPS[token.text]
        return None

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "end":
            raise self.unsupported(token)

    def unsupported(self, token: _Token) -> ExpressionError:
        if token.kind == "name" and token.text in _UNSUPPORTED_WORDS:
            return _refused(_UNSUPPORTED_WORDS[token.text], self.text)
        what = {
            "+": "arithmetic (+)",
            "-": "arithmetic (-)",
            "*": "arithmetic (*)",
            "/": "arithmetic (/)",
            "%": "arithmetic (%)",
            "?": "the conditional operator ?:",
            ":": "the conditional operator ?: (or a function prefix)",
            "[": "indexing with […]",
            "(": "a function or method call",
            ",": "a list of arguments",
            "->": "a lambda (->)",
            "=": "assignment (=)",
            "+=": "string concatenation (+=)",
            ";": "several expressions (;)",
            "{": "a set or map literal {…}",
        }.get(token.text)
        if token.kind == "end":
            return _refused("the expression ends too early", self.text)
        return _refused(what or f"{token.text!r} here", self.text)

    # expression := or
    def expression(self) -> _Node:
        return self.binary_logic("||", "or", self.and_)

    def and_(self) -> _Node:
        return self.binary_logic("&&", "and", self.equality)

    def binary_logic(self, symbol: str, python: str, operand: Callable[[], _Node]) -> _Node:
        left = operand()
        while self.op() == symbol:
            self.take()
            right = operand()
            left = _Node(f"({_boolean(left)} {python} {_boolean(right)})", boolean=True)
        return left

    def equality(self) -> _Node:
        left = self.relational()
        while self.op() in ("==", "!="):
            op = self.take()
            right = self.relational()
            left = _compare(_KEYWORD_OPS.get(op.text, op.text), left, right)
        return left

    def relational(self) -> _Node:
        left = self.unary()
        while self.op() in ("<", ">", "<=", ">="):
            op = self.take()
            right = self.unary()
            left = _compare(_KEYWORD_OPS.get(op.text, op.text), left, right)
        return left

    def unary(self) -> _Node:
        op = self.op()
        if op == "!":
            self.take()
            return _Node(f"(not {_boolean(self.unary())})", boolean=True)
        if op == "empty":
            self.take()
            return _Node(f"juel_empty({self.unary().python})", boolean=True)
        if op == "-" and self.tokens[self.pos + 1].kind == "number":
            self.take()
            return _Node(f"(-{self.take().text})")
        return self.primary()

    def primary(self) -> _Node:
        token = self.peek()
        if token.kind == "string":
            self.take()
            return self.no_access(_Node(repr(token.value)))
        if token.kind == "number":
            self.take()
            return self.no_access(_Node(repr(token.value)))
        if token.kind == "op" and token.text == "(":
            self.take()
            inner = self.expression()
            if self.op() != ")":
                raise self.unsupported(self.peek())
            self.take()
            return self.no_access(_Node(f"({inner.python})", inner.boolean))
        if token.kind == "name" and token.text not in _KEYWORD_OPS and token.text not in _UNSUPPORTED_WORDS:
            self.take()
            if token.text in _LITERAL_WORDS:
                return self.no_access(_Node(repr(_LITERAL_WORDS[token.text]), token.text != "null"))
            return self.lookup(token.text)
        raise self.unsupported(token)

    def lookup(self, name: str) -> _Node:
        if "$" in name or name.startswith("_") or keyword.iskeyword(name):
            raise _refused(f"the name {name!r} (not a name hennan_flow can read from case data)", self.text)
        python, dotted = name, name
        while self.op() == ".":
            self.take()
            key = self.take()
            if key.kind != "name":
                raise self.unsupported(key)
            python, dotted = f"get({python}, {key.text!r})", f"{dotted}.{key.text}"
        if self.op() == "(":
            raise _refused(f"calling {dotted}(…) (functions and methods)", self.text)
        if self.op() == ":" and self.tokens[self.pos + 1].kind == "name":
            raise _refused(f"the function {dotted}:{self.tokens[self.pos + 1].text}(…)", self.text)
        if self.op() == "[":
            raise self.unsupported(self.peek())
        return _Node(python)

    def no_access(self, node: _Node) -> _Node:
        if self.op() in (".", "[", "("):
            raise self.unsupported(self.peek())
        return node


def _boolean(node: _Node) -> str:
    return node.python if node.boolean else f"juel_bool({node.python})"


def _compare(op: str, left: _Node, right: _Node) -> _Node:
    return _Node(f"juel_compare({op!r}, {left.python}, {right.python})", boolean=True)


def _cut(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _refused(why: str, text: str) -> ExpressionError:
    shown = text.strip()
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    return ExpressionError(
        f"JUEL expression outside the subset hennan_flow translates: {why}: {shown!r}",
        expression=text,
        hint=_HINT,
    )


# -- JUEL's coercions (EL 3.0 §1.8–1.23), the functions translated expressions call --------------


def juel_bool(value: Any) -> bool:
    """Coerce to Boolean: null and "" are false, a string is true when it says "true"."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    raise TypeError(f"JUEL cannot use a {type(value).__name__} as a boolean")


def juel_empty(value: Any) -> bool:
    """`empty x`: null, "", and an empty list or map."""
    if value is None:
        return True
    if isinstance(value, (str, list, tuple, dict, set)):
        return len(value) == 0
    return False


def _number(value: Any, kind: type) -> Any:
    if value is None or value == "":
        return kind(0)
    if isinstance(value, bool):
        raise TypeError("JUEL cannot compare a boolean with a number")
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            raise TypeError(f"JUEL cannot read this string as a {kind.__name__}") from None
    if isinstance(value, (int, float)):
        return kind(value)
    raise TypeError(f"JUEL cannot compare a {type(value).__name__} with a number")


def _string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_kind(a: Any, b: Any) -> type | None:
    """The number type JUEL coerces both operands to: Double beside a float, Long beside an integer."""
    if isinstance(a, float) or isinstance(b, float):
        return float
    if _is_number(a) or _is_number(b):
        return int
    return None


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    kind = _numeric_kind(a, b)
    if kind is not None:
        return bool(_number(a, kind) == _number(b, kind))
    if isinstance(a, bool) or isinstance(b, bool):
        return juel_bool(a) == juel_bool(b)
    if isinstance(a, str) or isinstance(b, str):
        return _string(a) == _string(b)
    return bool(a == b)


def _order(a: Any, b: Any) -> int:
    kind = _numeric_kind(a, b)
    if kind is not None:
        x, y = _number(a, kind), _number(b, kind)
    elif isinstance(a, str) and isinstance(b, str):
        x, y = a, b
    else:
        raise TypeError(f"JUEL cannot order a {type(a).__name__} and a {type(b).__name__}")
    return int((x > y) - (x < y))


def juel_compare(op: str, a: Any, b: Any) -> bool:
    """A JUEL comparison with JUEL's coercions: numbers compare as numbers (a numeric string too),
    a boolean with a string as booleans, anything with a string as strings; null is equal only to
    null and never less or greater than anything."""
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if a is None or b is None:
        return False
    sign = _order(a, b)
    return {"<": sign < 0, ">": sign > 0, "<=": sign <= 0, ">=": sign >= 0}[op]


JUEL_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "juel_bool": juel_bool,
    "juel_compare": juel_compare,
    "juel_empty": juel_empty,
}
