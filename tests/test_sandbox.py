"""The expression sandbox (issue 4, DESIGN §5): known escapes refused, size bombs refused cheaply,
the expressions bundles need still working, and failures that name the element and the expression
without quoting case data.

The escape payloads live in `fixtures/safety/payloads.py`; the first test proves each one really
escapes SpiffWorkflow's default engine, so every refusal below is the refusal of a working attack.
The engine-level placements (gateway, timer, multi-instance, script) are in test_safety_engine.py.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from helpers import safety_payloads, shown
from hennan_flow.bpmn.dialect import read_document
from hennan_flow.errors import CalendarRangeError, ExpressionError, InputError
from hennan_flow.runtime.expressions import code_problems
from hennan_flow.runtime.sandbox import Limits, Sandbox

payloads = safety_payloads()
PAYLOADS = payloads.PAYLOADS
RUNNABLE = [p for p in PAYLOADS if p.kind != "dos"]


# -- the payloads are real ------------------------------------------------------------------

_PLAIN_ENGINE = r"""
import json, sys
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
env = TaskDataEnvironment()   # what SpiffWorkflow 3.2.0 uses unless told otherwise: eval/exec
out = {}
for pid, mode, text in json.load(sys.stdin):
    try:
        if mode == "eval":
            out[pid] = repr(env.evaluate(text, {}))
        else:
            env.execute(text, {})
            out[pid] = "ran"
    except BaseException as exc:
        out[pid] = "error: %s: %s" % (type(exc).__name__, exc)
print(json.dumps(out))
"""


def test_every_payload_escapes_spiffworkflows_default_engine(tmp_path: Path) -> None:
    """Control: run in a child process by SpiffWorkflow's own environment, each payload does harm."""
    jobs = [(p.id, p.mode, p.text(str(tmp_path / p.id))) for p in RUNNABLE]
    run = subprocess.run(
        [sys.executable, "-c", _PLAIN_ENGINE],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONBREAKPOINT": "os.mkdir"},  # breakpoint(path) then creates path
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    for p in RUNNABLE:
        if p.kind == "escape":
            assert (tmp_path / p.id).exists(), f"{p.id} did not escape: {results[p.id]}"
        else:
            assert p.leaks in results[p.id], f"{p.id} did not leak: {results[p.id]}"
    assert len(PAYLOADS) >= 15


# -- every payload is refused -------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.id)
def test_every_payload_is_refused_as_expression_and_as_script(payload: Any, tmp_path: Path) -> None:
    sandbox = Sandbox()
    target = tmp_path / payload.id
    text = payload.text(str(target))
    for run in (
        lambda: sandbox.evaluate(text, {"x": 1}, element="gw_1"),
        lambda: sandbox.execute(text, {"x": 1}, element="gw_1"),
    ):
        with pytest.raises(ExpressionError) as info:
            run()
        err = info.value
        assert err.message.startswith("expression refused: "), err.message
        assert err.message.endswith(shown(text))
        assert err.expression == text
        assert err.location is not None and err.location.element == "gw_1"
        assert 'element "gw_1": expression refused' in str(err)
        assert err.exit_code == 2 and isinstance(err, InputError)
    assert not target.exists()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("x.__class__", "attribute access"),
        ("'{}'.format(x)", "calling ''{}'.format' is not allowed"),
        ("len(x.y)", "attribute access"),
        ("'%s' % x", "%-formatting"),
        ("'%(k)s' % {'k': x}", "%-formatting"),
        ("__import__('os')", "'__import__'"),
        ("_private", "names starting with _"),
        ("lambda: 1", "lambda"),
        ("[y for y in x]", "comprehensions"),
        ("(y for y in x)", "generator"),
        ("f'{x}'", "f-strings"),
        ("(y := 1)", ":="),
        ("len(*x)", "starred"),
        ("len(**x)", "**"),
        ("{**x}", "**"),
        ("x | 1", "bitwise"),
        ("~x", "bitwise"),
        ("1 << 2", "bitwise"),
        ("b'x'", "constant"),
        ("1j", "constant"),
        ("...", "constant"),
        ("x(1)", "calling 'x'"),
        ("getattr(x, 'y')", "calling 'getattr'"),
        ("type(x)", "calling 'type'"),
        ("len", None),  # a function name alone is not a value: it is looked up in the case data
    ],
)
def test_forms_outside_the_allow_list_are_refused(text: str, why: str | None) -> None:
    sandbox = Sandbox()
    with pytest.raises(ExpressionError) as info:
        sandbox.evaluate(text, {"x": [1, 2]})
    if why is None:
        assert info.value.message.startswith("expression failed: name 'len' is not in the case data")
    else:
        assert info.value.message.startswith("expression refused"), info.value.message
        assert why in info.value.message


def test_functions_cannot_be_passed_or_called_from_the_data() -> None:
    sandbox = Sandbox()
    with pytest.raises(ExpressionError, match="functions cannot be passed as values"):
        sandbox.evaluate("sorted(x, key=f)", {"x": [2, 1], "f": print})
    with pytest.raises(ExpressionError, match="calling 'f' is not allowed"):
        sandbox.evaluate("f(1)", {"f": print})
    with pytest.raises(ExpressionError, match="name 'len' is not in the case data"):
        sandbox.evaluate("sorted(x, key=len)", {"x": ["bb", "a"]})


# -- size bombs ---------------------------------------------------------------------------------

_BOMBS = r"""
import json, resource, sys
from hennan_flow.errors import ExpressionError
from hennan_flow.runtime.sandbox import Sandbox
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))   # a bomb that builds fails loudly
data = {"big": "a" * 10_000_000, "many": list(range(1_000_000)), "n": 999_999_999}
out = []
for text in json.load(sys.stdin):
    try:
        Sandbox().evaluate(text, data)
        outcome = "ran"
    except ExpressionError as exc:
        outcome = exc.message
    except BaseException as exc:
        outcome = "ESCAPED %s" % type(exc).__name__
    out.append([text, outcome])
# VmHWM is this program's own peak: ru_maxrss would carry the forking test process's size over exec
with open("/proc/self/status") as status:
    rss = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024
print(json.dumps({"results": out, "max_rss_mb": rss}))
"""

BOMBS_REFUSED = [p.template for p in PAYLOADS if p.kind == "dos"] + [
    "'%*d' % (999999999, 1)",
    "'%*d' % (n, 1)",
    "str([['x' * 10000] * 10000])",
    "[[1] * 10000] * 10000",
    "sorted([[1] * 10000] * 10000)",
    "[1] * 10**10",
    "[] + [1] * 6000 + [2] * 6000",
    "'x' * 9999 + 'y' * 9999",
    "(2**255) ** (2**255)",
    "2 ** 300",
    "10.0 ** 10**6",
    "(10**77) * (10**77)",
    "int('9' * 5000)",
    "round(1.5, 10**70)",
    "round(10**77, -10**18)",
    "-" * 1000 + "1",
    "not " * 400 + "n",
    "(" * 500 + "1" + ")" * 500,
    "1+" * 999 + "1",
    "x" * 2001,
    "big + big",
    "[big]",
    "str(many)",
    "sorted(many)",
    "many + many",
    "sum(many, [])",
    "big[::-1]",
    "many[1:]",
]
BOMBS_CHEAP = [
    "'a' * 5000 + 'b' in big",  # substring search in a 10 MB string stays linear
    "len(big) > 0 and len(many) > 0",
    "max(many) == 999999 and min(many) == 0 and sum(many) > 0",
    "many == many and many[-1] == 999999",
    "big[:5] == 'aaaaa' and many[:3] == [0, 1, 2]",
    "{0, 2305843009213693951, 4611686018427387902, 6917529027641081853} != {0}",  # equal hashes
    "10**77 < 10**77 + 1 < 10**77 + 2",
    "(-1) ** 10**70",
]


def test_size_bombs_are_refused_before_they_build_anything() -> None:
    """In a child process with 2 GB of address space: each bomb is refused, and nothing big is built.

    How fast the refusals and the cheap expressions are is a goal for bench/safety.py, not asserted here.
    """
    run = subprocess.run(
        [sys.executable, "-c", _BOMBS],
        input=json.dumps(BOMBS_REFUSED + BOMBS_CHEAP),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    results = dict(report["results"])
    for text in BOMBS_REFUSED:
        outcome = results[text]
        assert outcome.startswith(("expression refused", "expression failed")), (text[:60], outcome)
    for text in BOMBS_CHEAP:
        outcome = results[text]
        assert outcome == "ran", (text[:60], outcome)
    # the 10 MB string, the million-item list and what str(many) built: nothing near a bomb's size
    assert report["max_rss_mb"] < 600, report["max_rss_mb"]


@pytest.mark.parametrize(
    "text",
    [
        "10**10**8",
        "x and 10**10**8",
        "False and 10**10**8",
        "'a' if x else 'b' * 10**10",
        "[x, 2**300]",
        "workdays(10**10**8)",
        "int('9' * 5000) > x",
        "x + sum([[1] * 10000] * 10000, [])",
        "y = x\nif y:\n    z = '%0999999999d' % 1",
    ],
)
def test_validate_refuses_bombs_in_parts_that_read_no_case_data(text: str) -> None:
    """`check` (what validate runs) evaluates the constant parts, so a bomb never reaches a deployment."""
    sandbox = Sandbox(functions={"workdays": lambda n: ""})
    check = sandbox.check_script if "\n" in text else sandbox.check
    with pytest.raises(ExpressionError, match="expression refused"):
        check(text, element="gw")


def test_constant_parts_that_merely_fail_are_left_to_run_time() -> None:
    sandbox = Sandbox(functions={"workdays": lambda n: "2026-03-04"})
    for text in ("x and 1 / 0", "x or int('abc')", "workdays(3) > '2026'", "x[5:]"):
        sandbox.check(text)  # no refusal: nothing here is a size bomb
    with pytest.raises(ExpressionError, match="expression failed: division by zero"):
        sandbox.evaluate("x and 1 / 0", {"x": True}, element="gw")
    assert sandbox.evaluate("x and 1 / 0", {"x": False}) is False


def test_the_size_limits_are_configurable() -> None:
    small = Sandbox(limits=Limits(max_sequence=10, max_int_bits=16, max_nodes=8, max_length=30))
    assert small.evaluate("'x' * 10", {}) == "x" * 10
    for text, why in [
        ("'x' * 11", "too large"),
        ("[[1, 2, 3]] * 4", "too large"),  # nested items count in full
        ("2 ** 16", "too large"),
        ("1 + 2 + 3 + 4 + 5", "syntax nodes"),
        ("a" * 31, "over the limit of 30"),
    ]:
        with pytest.raises(ExpressionError, match=why):
            small.evaluate(text, {"a" * 31: 1})


def test_evaluation_deep_in_the_callers_stack_fails_cleanly() -> None:
    """SpiffWorkflow may call us deep in its own recursion: a RecursionError becomes an ExpressionError.

    The expression is evaluated in every frame of a recursion as deep as Python allows, from the
    deepest frame up, each with one more frame of room than the one below. Where the room runs out
    inside the evaluation, the caller must get an ExpressionError, not the RecursionError. Only in the
    last few frames, with no room to enter the sandbox or to build the error itself, does Python's
    RecursionError come through: a handful of frames, where the expression needs 38 levels.
    """
    sandbox = Sandbox()
    text = "(" * 38 + "x" + " + 1)" * 38
    assert sandbox.evaluate(text, {"x": 1}) == 39
    outcomes: list[str] = []  # from the deepest frame up

    def descend() -> None:
        try:  # noqa: SIM105 -- contextlib.suppress would add a Python frame where there is no room left
            descend()
        except RecursionError:
            pass
        try:
            sandbox.evaluate(text, {"x": 1})
            outcomes.append("ran")
        except ExpressionError as exc:
            outcomes.append(exc.message)
        except RecursionError:
            outcomes.append("RecursionError")  # no room even to enter the sandbox

    limit = sys.getrecursionlimit()
    descend()
    assert sys.getrecursionlimit() == limit
    failed = "expression failed: the expression needs too much memory or nesting: "
    kinds = [
        o if o in ("ran", "RecursionError") else "failed" if o.startswith(failed) else o for o in outcomes
    ]
    runs = [(kind, len(list(group))) for kind, group in itertools.groupby(kinds)]
    # no room at all, then too little room (a clean failure), then enough room (it runs)
    assert [kind for kind, _ in runs] == ["RecursionError", "failed", "ran"], sorted(set(outcomes))
    # a RecursionError escaping the evaluation would turn the whole failing stretch into one
    assert runs[0][1] <= 10 and runs[1][1] >= 30, runs


# -- what bundles need keeps working ----------------------------------------------------------

DATA: dict[str, Any] = {
    "amount": 120,
    "rate": 0.5,
    "kind": "restaurant",
    "approved": True,
    "needs_supplement": False,
    "items": ["营业执照", "身份证"],
    "data": {"k": 1, "区县": "衡南县", "nested": {"n": [3, 4]}},
    "nothing": None,
    "start_date": "2026-03-02",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amount > 100", True),
        ("100 <= amount < 200", True),
        ("amount == 120 and kind != 'bank'", True),
        ("kind in ['restaurant', 'shop']", True),
        ("'营业执照' in items", True),
        ("'照' in '营业执照'", True),
        ("'公章' not in items", True),
        ("approved and not needs_supplement", True),
        ("needs_supplement or amount > 1000", False),
        ("needs_supplement == True", False),
        ("nothing is None", True),
        ("amount * rate + 3", 63.0),
        ("(amount - 20) // 3 % 7", 5),
        ("amount / 8", 15.0),
        ("-amount + 2 ** 10", 904),
        ('data["k"] == 1', True),
        ('data["区县"]', "衡南县"),
        ('data["nested"]["n"][1]', 4),
        ("items[0]", "营业执照"),
        ("items[-1]", "身份证"),
        ("items[:1]", ["营业执照"]),
        ("start_date[:4]", "2026"),
        ("len(items) >= 2", True),
        ("min(3, amount, 7)", 3),
        ("max([1, 5, 2])", 5),
        ("sum([1, 2, 3.5])", 6.5),
        ("sorted(items, reverse=True)", ["身份证", "营业执照"]),
        ("abs(-3) + round(2.567, 2)", 5.57),
        ("int('42') + float('0.5')", 42.5),
        ("str(amount) + '元'", "120元"),
        ("bool(items) and all([True, 1]) and not any([])", True),
        ("get(data, 'missing', 'default')", "default"),
        ("get(items, 5)", None),
        ("'加急' if amount > 100 else '普通'", "加急"),
        ('{"a": 1, "b": [1, 2]}["b"]', [1, 2]),
        ("(1, 2) + (3,)", (1, 2, 3)),
        ("{1, 2} == {2, 1}", True),
        ('start_date + "T09:00:00"', "2026-03-02T09:00:00"),
        ('"P5D"', "P5D"),
        ("2", 2),
        ("True", True),
    ],
)
def test_legitimate_expressions_keep_working(text: str, expected: Any) -> None:
    assert Sandbox().evaluate(text, DATA) == expected


def test_domain_functions_are_called_by_name() -> None:
    calls: list[int] = []

    def workdays(n: int) -> str:
        calls.append(n)
        return "2026-03-04T17:30:00+08:00"

    sandbox = Sandbox(functions={"workdays": workdays})
    assert sandbox.evaluate("workdays(2)", {}) == "2026-03-04T17:30:00+08:00"
    assert sandbox.evaluate("workdays(days)", {"days": 3}) == "2026-03-04T17:30:00+08:00"
    assert calls == [2, 3]
    with pytest.raises(ExpressionError, match="calling 'workdays' is not allowed"):
        Sandbox().evaluate("workdays(2)", {})


def test_a_domain_function_refusing_its_argument_names_the_expression() -> None:
    def workdays(n: int) -> str:
        raise InputError("workdays(n) needs a whole number n ≥ 1", hint="write workdays(5)")

    def needs_calendar(n: int) -> str:
        raise CalendarRangeError("no calendar data for 2031", year=2031)

    sandbox = Sandbox(functions={"workdays": workdays, "later": needs_calendar})
    with pytest.raises(ExpressionError) as info:
        sandbox.evaluate("workdays(0)", {}, element="timer_1")
    assert info.value.message == "expression failed: workdays(n) needs a whole number n ≥ 1: 'workdays(0)'"
    assert info.value.hint == "write workdays(5)"
    assert info.value.location is not None and info.value.location.element == "timer_1"
    # a calendar gap is not the designer's mistake: the timer code waits for calendar data
    with pytest.raises(CalendarRangeError):
        sandbox.evaluate("later(1)", {})


PERSONAL = {"name": "测试隐私人名甲乙", "id_number": "430422199912319999", "phone": "13912349876"}
ID_INT = "430422199912319999"


@pytest.mark.parametrize(
    "text",
    [
        "int(name)",
        "float(id_number + 'x')",
        "data[name]",
        "data[id_number]",
        "items[int(phone)]",
        "name + 1",
        "name < 1",
        "sorted([name, 1])",
        "undefined_variable",
        "{name: 1}[phone]",
        "int(phone * 2, 2)",
        "id_int ** 100",
        "id_int * id_int * id_int * id_int * id_int",
    ],
)
def test_failure_messages_never_quote_case_data(text: str) -> None:
    with pytest.raises(ExpressionError) as info:
        Sandbox().evaluate(text, {**PERSONAL, "id_int": int(ID_INT), "data": {}, "items": []}, element="gw")
    said = str(info.value)
    assert info.value.message.startswith(("expression failed: ", "expression refused: "))
    for value in PERSONAL.values():
        assert value not in said, said


# -- scripts ------------------------------------------------------------------------------------


def test_scripts_assign_and_branch() -> None:
    data: dict[str, Any] = {"amount": 120, "items": ["a"]}
    Sandbox().execute(
        """
        fee = 100
        if amount > 100:
            fee += 20
            level = "加急"
        elif amount > 50:
            level = "普通"
        else:
            pass
        count = len(items)
        total = fee * count
        """,
        data,
        element="compute_fee",
    )
    assert data == {"amount": 120, "items": ["a"], "fee": 120, "level": "加急", "count": 1, "total": 120}


@pytest.mark.parametrize(
    ("script", "why"),
    [
        ("x.y = 1", "plain variable names"),
        ("d['k'] = 1", "plain variable names"),
        ("a, b = 1, 2", "plain variable names"),
        ("__builtins__ = {}", "names starting with _"),
        ("import os", "import"),
        ("from os import system", "import"),
        ("def f():\n    pass", "defining functions"),
        ("class C:\n    pass", "defining classes"),
        ("for i in [1]:\n    pass", "loops"),
        ("while True:\n    pass", "loops"),
        ("with x:\n    pass", "with"),
        ("try:\n    pass\nexcept Exception:\n    pass", "try"),
        ("global g", "global"),
        ("del x", "del"),
        ("raise ValueError", "raise"),
        ("x: int = 1", "AnnAssign"),
        ("\n".join(f"v{i} = {i}" for i in range(201)), "too long"),
    ],
)
def test_scripts_outside_the_allow_list_are_refused(script: str, why: str) -> None:
    with pytest.raises(ExpressionError, match=why):
        Sandbox().execute(script, {"x": 1}, element="script_1")


# -- validate ------------------------------------------------------------------------------------

_CORRELATION = """<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="d" targetNamespace="urn:x">
  <bpmn:message id="m" name="m"/>
  <bpmn:correlationProperty id="cp" name="case">
    <bpmn:correlationPropertyRetrievalExpression messageRef="m">
      <bpmn:formalExpression>{expression}</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""


def test_validate_checks_message_correlation_expressions() -> None:
    def problems(expression: str) -> list[Any]:
        tree = etree.ElementTree(etree.fromstring(_CORRELATION.format(expression=expression).encode()))
        return code_problems(read_document(tree, "corr.bpmn"))

    assert problems("case_id") == []
    (found,) = problems("().__class__")
    assert (found.code, found.location.file, found.location.line, found.location.element) == (
        "SANDBOX-EXPRESSION",
        "corr.bpmn",
        6,
        "cp",
    )
    assert "attribute access" in found.message
