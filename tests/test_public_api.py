"""The public API is what `hennan_flow.__all__` lists, pinned here (after httpx's tests/test_exported_members.py).

Anything not exported is internal. The lead adds the engine (Engine, Case, Task, …) to `__all__` later;
these tests compare against whatever `__init__` exports, so they keep working and keep it honest.
"""

from __future__ import annotations

import inspect
import types
from importlib import resources

import pytest

import hennan_flow
from hennan_flow import errors
from hennan_flow.errors import (
    BpmnError,
    CalendarRangeError,
    ConfigError,
    ConflictError,
    DeliveryError,
    ExpressionError,
    FindingsError,
    FormDataError,
    HennanFlowError,
    InputError,
    Location,
    NotFoundError,
    PermissionDenied,
    SchemaOutOfDateError,
    SimulationError,
    StateError,
)


def _is_public_member(name: str, value: object) -> bool:
    if name.startswith("_"):
        return False
    # `from __future__ import annotations` leaves a feature object named "annotations" behind
    if type(value).__module__ == "__future__":
        return False
    # `from .bundle import …` binds the submodule too; submodules are reached as hennan_flow.x, not exports
    return not (isinstance(value, types.ModuleType) and value.__name__.startswith("hennan_flow."))


def test_all_is_sorted_casefold() -> None:
    assert hennan_flow.__all__ == sorted(hennan_flow.__all__, key=str.casefold)
    assert len(set(hennan_flow.__all__)) == len(hennan_flow.__all__)


def test_all_equals_the_public_members() -> None:
    members = {name for name, value in vars(hennan_flow).items() if _is_public_member(name, value)}
    members |= set(hennan_flow._LAZY)  # loaded on first use (the engine pulls in SQLAlchemy)
    assert hennan_flow.__all__ == sorted(members, key=str.casefold)


@pytest.mark.parametrize("name", hennan_flow.__all__)
def test_exported_name_is_importable_and_documented(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from hennan_flow import {name}", namespace)  # the way a portal developer imports it
    obj = namespace[name]
    assert obj is getattr(hennan_flow, name)
    assert getattr(obj, "__module__", "").startswith("hennan_flow"), (
        f"{name} is re-exported from a dependency"
    )
    # the object's own docstring: a class does not inherit one, and a dataclass's generated
    # "Name(field, …)" signature is not documentation
    doc = vars(obj).get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    assert doc and doc.strip(), f"{name} has no docstring"
    assert not doc.startswith(f"{name}("), f"{name} has only the dataclass-generated docstring"
    assert inspect.cleandoc(doc).splitlines()[0].strip(), f"{name}: the first docstring line says what it is"


def test_package_is_typed() -> None:
    assert (resources.files("hennan_flow") / "py.typed").is_file()


def test_error_module_is_reexported_whole() -> None:
    """What errors.py exports (e.g. FieldError, the type of FormDataError.fields) is public API too."""
    assert set(errors.__all__) <= set(hennan_flow.__all__), sorted(
        set(errors.__all__) - set(hennan_flow.__all__)
    )


# -- the error tree ---------------------------------------------------------------------------

# class: (parent, exit code). Adding an error class means adding it here, on purpose.
ERROR_TREE: dict[type[HennanFlowError], tuple[type[Exception], int]] = {
    HennanFlowError: (Exception, 3),
    InputError: (HennanFlowError, 2),
    BpmnError: (InputError, 2),
    FormDataError: (InputError, 2),
    ExpressionError: (InputError, 2),
    CalendarRangeError: (InputError, 2),
    ConfigError: (InputError, 2),
    NotFoundError: (InputError, 2),
    StateError: (InputError, 2),
    SimulationError: (InputError, 2),
    SchemaOutOfDateError: (InputError, 2),
    ConflictError: (HennanFlowError, 1),
    DeliveryError: (HennanFlowError, 1),
    PermissionDenied: (HennanFlowError, 4),
    FindingsError: (HennanFlowError, 1),
}


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _all_subclasses(sub)
    return found


@pytest.mark.parametrize("cls", list(ERROR_TREE), ids=lambda c: c.__name__)
def test_error_class_exit_code_and_parent(cls: type[HennanFlowError]) -> None:
    parent, exit_code = ERROR_TREE[cls]
    assert cls.__bases__ == (parent,)
    assert cls.exit_code == exit_code
    assert cls.__module__ == "hennan_flow.errors"
    assert cls.__name__ in hennan_flow.__all__


def test_every_error_class_is_pinned() -> None:
    """One errors module: every HennanFlowError subclass of the package is in the table above."""
    ours = {c for c in _all_subclasses(HennanFlowError) if c.__module__.startswith("hennan_flow")}
    assert ours | {HennanFlowError} == set(ERROR_TREE), "new error classes: pin them in ERROR_TREE"
    for cls in _all_subclasses(InputError):
        assert cls.exit_code == 2, cls


def test_error_carries_location_and_hint() -> None:
    loc = Location(file="processes/qykb.bpmn", line=42, element="register", material="premises_proof")
    exc = BpmnError("material has no hf:legalBasis", hint="add <hf:legalBasis …/>", location=loc)
    assert (exc.message, exc.hint, exc.location) == (
        "material has no hf:legalBasis",
        "add <hf:legalBasis …/>",
        loc,
    )
    assert str(loc) == "processes/qykb.bpmn:42"
    assert str(Location()) == "<input>"


def test_error_prints_as_one_line() -> None:
    """STYLE (c)5: `file:line: element "id": what。建议：…` (validate's own problem lines keep `hint:`)."""
    loc = Location(file="processes/qykb.bpmn", line=42, element="register")
    exc = BpmnError("material has no hf:legalBasis", hint="add <hf:legalBasis …/>", location=loc)
    assert str(exc) == (
        'processes/qykb.bpmn:42: element "register": material has no hf:legalBasis。建议：add <hf:legalBasis …/>'
    )
    assert str(ConfigError("bad URL")) == "bad URL"
    assert str(CalendarRangeError("2031-01-02 is outside the calendar data", year=2031)).startswith(
        "2031-01-02 is outside the calendar data。建议：载入覆盖 2031 年的本县日历文件"
    )
