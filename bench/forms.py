"""The timing side of the form-safety tests: how fast a hostile submission or schema gets its answer.

tests/test_form_safety.py checks what each answer is; how long it takes is a goal for here: each
well under a second (issue 28 item 1: `^(a+)+$` took 17 s on 30 characters with Python's re, a
104 MB value made a 52 MB message, a 50,000-deep schema exited 3).

    python bench/forms.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from safety import timed  # bench/safety.py: the median of repeated calls

from hennan_flow.errors import FormDataError
from hennan_flow.stepforms.data import MAX_DATA_CHARS, check_form_data
from hennan_flow.stepforms.schema import MAX_SCHEMA_DEPTH, check_form

GOAL_SECONDS = 1.0

REDOS = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "title": "代码", "pattern": "^(a+)+$"},
        "other": {"type": "string", "pattern": "^(x|x)*y$"},
    },
}
_LEVELS = 25
COMBINATORIAL = {
    "type": "object",
    "$defs": {
        **{f"a{i}": {"anyOf": [{"$ref": f"#/$defs/a{i + 1}"}] * 2} for i in range(_LEVELS)},
        f"a{_LEVELS}": {"type": "integer"},
    },
    "properties": {"n": {"$ref": "#/$defs/a0", "title": "数量"}},
}
NAMED = {"type": "object", "properties": {"name": {"type": "string", "title": "姓名", "maxLength": 50}}}


def _refused(schema: Any, data: dict[str, Any]) -> int:
    """The length of the refusal's text (0: accepted)."""
    try:
        check_form_data(schema, data, step="s", form="f")
    except FormDataError as exc:
        return len(str(exc))
    return 0


def _deep_schema_refused(folder: Path) -> bool:
    """Whether validate's form check refuses a 50,000-deep schema file (with an error, not a crash)."""
    path = folder / "deep" / "form.schema.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"items": ' * 50_000 + "{}" + "}" * 50_000, encoding="utf-8")
    return any(issue.severity == "error" for issue in check_form(path, "deep/form"))


def main() -> dict[str, Any]:
    cases = {
        "redos_5000_chars": (_refused, REDOS, {"code": "a" * 5000 + "!", "other": "x" * 5000}),
        "combinatorial_schema": (_refused, COMBINATORIAL, {"n": "many"}),
        "value_at_the_bound": (_refused, NAMED, {"name": "衡" * (MAX_DATA_CHARS - 10)}),
        "value_20x_the_bound": (_refused, NAMED, {"name": "衡" * (20 * MAX_DATA_CHARS)}),
    }
    out: dict[str, Any] = {"goal_seconds": GOAL_SECONDS, "max_schema_depth": MAX_SCHEMA_DEPTH}
    ok = True
    for name, (fn, schema, data) in cases.items():
        seconds, length = timed(fn, schema, data)
        out[name] = {"seconds": seconds, "message_chars": length}
        ok = ok and 0 < length < 600 and seconds < GOAL_SECONDS
    with tempfile.TemporaryDirectory(prefix="hf-forms-") as tmp:
        seconds, refused = timed(_deep_schema_refused, Path(tmp))
    out["schema_50000_deep"] = {"seconds": seconds, "refused": refused}
    out["within_goal"] = ok and refused and seconds < GOAL_SECONDS
    print(
        "forms: "
        + "; ".join(
            f"{k} {v['seconds'] * 1000:.1f} ms"
            + (f" ({v['message_chars']} chars)" if "message_chars" in v else "")
            for k, v in out.items()
            if isinstance(v, dict)
        )
        + f"; each refused, message < 600 chars, under {GOAL_SECONDS:.0f} s: {out['within_goal']}"
    )
    return out


if __name__ == "__main__":
    sys.exit(0 if main()["within_goal"] else 1)
