"""Plain SpiffWorkflow 3.2.0 and hennan_flow side by side on one BPMN process (issue 29).

Both sides get the same inputs: the same files (the process's own, plus the files of the same folder
that define the processes its call activities call), no start data, and every ready user step
completed with empty data, one at a time, always the first ready step in document order, at most
`MAX_COMPLETIONS` of them. Of the instances of that step (a multi-instance step, parallel branches
through one element) both sides complete the one made first: the task ids are time-ordered on both
sides (`hennan_flow.ids.use_for_spiff_tasks`), so neither side's list order decides (SpiffWorkflow
lists its tree depth first, hennan_flow's work queue by ready time and id). A side's `Run` is what it refused (hennan_flow: the validate codes of
its deploy) or the ready steps after the start and after each completion, and how it ended.

The reference is SpiffWorkflow's plain `BpmnParser` (its `SpiffBpmnParser` for files written for
spiff-arena, which use the `spiffworkflow:` namespace) with its default Python script engine. The
corpora are other projects' test files: that engine's `eval`/`exec` runs here with builtins cut to
plain data functions (no import, open, eval, getattr), which plain SpiffWorkflow would not do.

`classify` names the documented class a difference falls in, or None.
"""

from __future__ import annotations

import builtins
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from hennan_flow.bpmn.xmlsafe import parse_file
from hennan_flow.engine import Engine
from hennan_flow.errors import FindingsError, HennanFlowError
from hennan_flow.ids import use_for_spiff_tasks
from hennan_flow.runtime.expressions import EXPRESSION_TAGS, sandbox_text

use_for_spiff_tasks()  # time-ordered task ids in the reference too: see `pick` below

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MAX_COMPLETIONS = 25
MAX_ENGINE_STEPS = 1000  # as hennan_flow's runtime: a loop without user steps stops here on both sides
MAX_SUBPROCESSES = 50  # SpiffWorkflow makes each nested subprocess slower than the last (recursive calls)

_SAFE_BUILTINS = {
    name: getattr(builtins, name)
    for name in [
        "abs",
        "all",
        "any",
        "bool",
        "dict",
        "divmod",
        "enumerate",
        "filter",
        "float",
        "frozenset",
        "int",
        "isinstance",
        "len",
        "list",
        "map",
        "max",
        "min",
        "range",
        "repr",
        "reversed",
        "round",
        "set",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
        "True",
        "False",
        "None",
        "Exception",
        "ValueError",
        "TypeError",
        "KeyError",
        "NameError",
    ]
}

# the documented classes of difference (docs/bundles.md, "Fidelity to SpiffWorkflow")
CODE_TASKS = "code tasks disabled"
SANDBOX = "sandbox refusal"
JUEL = "JUEL outside the subset"
VALIDATE = "a validate error hennan_flow raises and SpiffWorkflow does not"
TRANSLATED = "JUEL or an ISO-8601 literal hennan_flow translates and SpiffWorkflow evaluates as Python"
CLASSES = (CODE_TASKS, SANDBOX, JUEL, VALIDATE, TRANSLATED)


@dataclass(frozen=True)
class Run:
    """What one side did with one process."""

    refused: str | None = None  # could not build (reference) / deploy or start (hennan_flow)
    codes: frozenset[str] = frozenset()  # hennan_flow's validate codes when its deploy refused
    trace: tuple[tuple[str, ...], ...] = ()
    end: str = ""  # completed | waiting | error | limit (or "" when refused)
    error: str = ""

    def behaviour(self) -> tuple[Any, ...]:
        return ("refused",) if self.refused is not None else (self.trace, self.end)


@dataclass
class Model:
    """One corpus file: its executable processes and the files both sides load with it."""

    file: Path
    processes: list[str]
    files: list[Path]
    positions: dict[str, int] = field(default_factory=dict)
    spiff: bool = False
    translated: bool = False  # hennan_flow rewrote an expression (JUEL, an ISO literal)

    def pick(self, ready: Iterable[str]) -> str:
        return min(ready, key=lambda step: (self.positions.get(step, 1 << 30), step))

    def ordered(self, ready: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(ready, key=lambda step: (self.positions.get(step, 1 << 30), step)))


def _local(el: Any) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def load_model(file: Path, folder_index: dict[Path, dict[str, Path]]) -> Model | None:
    """The model of a corpus file, or None when it is not BPMN with an executable process."""
    try:
        tree = parse_file(file)
    except HennanFlowError:
        return None
    root = tree.getroot()
    if _local(root) != "definitions":
        return None
    procs = [p for p in root.iter(f"{{{BPMN}}}process") if p.get("isExecutable", "true").strip() != "false"]
    if not procs:
        return None
    defined = folder_index.get(file.parent, {})
    files, queue, seen = [file], [tree], {file}
    while queue:  # the sibling files that define what the call activities call, transitively
        current = queue.pop()
        own = {p.get("id") for p in current.getroot().iter(f"{{{BPMN}}}process")}
        for call in current.getroot().iter(f"{{{BPMN}}}callActivity"):
            target = defined.get(call.get("calledElement") or "")
            if target is not None and target not in seen and call.get("calledElement") not in own:
                seen.add(target)
                files.append(target)
                try:
                    queue.append(parse_file(target))
                except HennanFlowError:
                    continue
    positions: dict[str, int] = {}
    for offset, path in enumerate(files):
        doc = tree if path == file else parse_file(path)
        for index, el in enumerate(doc.getroot().iter()):
            if isinstance(el.tag, str) and el.get("id"):
                positions.setdefault(el.get("id", ""), offset * 1_000_000 + index)
    translated = any(
        _rewritten(el.text or "", _local(el))
        for tag in EXPRESSION_TAGS
        for el in root.iter(f"{{{BPMN}}}{tag}")
    )
    return Model(
        file=file,
        processes=[p.get("id", "") for p in procs],
        files=files,
        positions=positions,
        spiff=SPIFF in root.nsmap.values() or any(SPIFF in (el.nsmap or {}).values() for el in root.iter()),
        translated=translated,
    )


def _rewritten(text: str, tag: str) -> bool:
    if not text.strip():
        return False
    try:
        return sandbox_text(text, tag) != text
    except HennanFlowError:
        return False


def folder_index(files: Iterable[Path]) -> dict[Path, dict[str, Path]]:
    """Per folder: which file defines each process id (the first, in name order)."""
    out: dict[Path, dict[str, Path]] = {}
    for file in sorted(files):
        try:
            root = parse_file(file).getroot()
        except HennanFlowError:
            continue
        for proc in root.iter(f"{{{BPMN}}}process"):
            out.setdefault(file.parent, {}).setdefault(proc.get("id", ""), file)
    return out


# -- the reference: plain SpiffWorkflow ---------------------------------------------------------


class _Runaway(Exception):
    pass


def reference_run(model: Model, pid: str) -> Run:
    parser = SpiffBpmnParser() if model.spiff else BpmnParser()
    try:
        for path in model.files:
            parser.add_bpmn_xml(parse_file(path), filename=str(path))
        spec = parser.get_spec(pid)
        subs = parser.get_subprocess_specs(pid)
    except Exception as exc:  # the reference's own refusal, whatever it raises
        return Run(refused=f"{type(exc).__name__}: {exc}"[:300])
    engine = PythonScriptEngine(environment=TaskDataEnvironment({"__builtins__": _SAFE_BUILTINS}))
    steps = Counter[str]()

    def count(task: Any) -> None:
        steps["n"] += 1
        if steps["n"] > MAX_ENGINE_STEPS or len(task.workflow.top_workflow.subprocesses) > MAX_SUBPROCESSES:
            raise _Runaway("automatic steps without end")

    trace: list[tuple[str, ...]] = []
    try:
        workflow = BpmnWorkflow(spec, subs, script_engine=engine)
        workflow.do_engine_steps(did_complete_task=count)
        for _ in range(MAX_COMPLETIONS + 1):
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            trace.append(model.ordered(t.task_spec.bpmn_id or t.task_spec.name for t in ready))
            if not ready:
                break
            if len(trace) > MAX_COMPLETIONS:
                return Run(trace=tuple(trace), end="limit")
            first = model.pick(t.task_spec.bpmn_id or t.task_spec.name for t in ready)
            task = min(
                (t for t in ready if (t.task_spec.bpmn_id or t.task_spec.name) == first), key=lambda t: t.id
            )
            steps.clear()
            task.run()
            workflow.do_engine_steps(did_complete_task=count)
        end = "completed" if workflow.is_completed() else "waiting"
    except Exception as exc:  # a failure of the model while it runs: an outcome like any other
        cause = getattr(exc, "exception", None) or exc.__cause__
        why = f"{type(exc).__name__}: {exc}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
        return Run(trace=tuple(trace), end="error", error=why[:300])
    return Run(trace=tuple(trace), end=end)


# -- hennan_flow, through its public API ----------------------------------------------------------

_CODE = re.compile(r"\[([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\]")


def deploy(engine: Engine, model: Model) -> Run | None:
    """Deploy the model's files; a Run saying why when hennan_flow refuses them."""
    try:
        engine.deploy(*(str(f) for f in model.files), allow_findings=True)
    except FindingsError as exc:
        return Run(refused=exc.message[:300], codes=frozenset(_CODE.findall(exc.message)))
    except HennanFlowError as exc:
        return Run(refused=f"{type(exc).__name__}: {exc.message}"[:300])
    return None


def engine_run(engine: Engine, model: Model, pid: str) -> Run:
    trace: list[tuple[str, ...]] = []
    try:
        case = engine.start_case(pid)
        for _ in range(MAX_COMPLETIONS + 1):
            ready = engine.tasks(case=case.id)
            trace.append(model.ordered(t.step for t in ready))
            if not ready:
                break
            if len(trace) > MAX_COMPLETIONS:
                return Run(trace=tuple(trace), end="limit")
            first = model.pick(t.step for t in ready)
            engine.complete_task(
                min((t for t in ready if t.step == first), key=lambda t: UUID(t.id)).id, data={}
            )
        state = engine.case(case.id).state
    except HennanFlowError as exc:
        return Run(trace=tuple(trace), end="error", error=f"{type(exc).__name__}: {exc.message}"[:300])
    except Exception as exc:  # an internal error (exit 3): never a documented class
        return Run(trace=tuple(trace), end="crash", error=f"{type(exc).__name__}: {exc}"[:300])
    return Run(trace=tuple(trace), end="completed" if state == "completed" else "waiting")


# -- classes of difference ---------------------------------------------------------------------


def classify(model: Model, reference: Run, ours: Run) -> str | None:
    """The documented class of a difference between the two runs (None: not one of them)."""
    if ours.refused is not None:
        if ours.codes & {"SANDBOX-CODE-TASK"}:
            return CODE_TASKS
        if ours.codes & {"JUEL-UNSUPPORTED"}:
            return JUEL
        if ours.codes & {"SANDBOX-EXPRESSION"}:
            return SANDBOX
        return VALIDATE if ours.codes else None
    if "expression refused" in ours.error:
        return SANDBOX
    if "tasks are disabled" in ours.error:
        return CODE_TASKS
    if reference.end == "error" and (
        (model.translated and _reads_as_python(reference.error)) or _iso_or_juel(reference.error)
    ):
        return TRANSLATED
    return None


_EVALUATING = re.compile(r"Error evaluating expression '(.*?)'", re.S)
_ISO = re.compile(r"^(?:R\d*/)?P(?:\d|T\d)|^\d{4}-\d{2}-\d{2}T")


def _iso_or_juel(error: str) -> bool:
    """SpiffWorkflow failed on an expression that is an ISO-8601 literal or JUEL (hennan_flow reads both)."""
    found = _EVALUATING.search(error)
    text = found.group(1).strip() if found else ""
    return bool(text) and (bool(_ISO.match(text)) or text.startswith(("${", "#{")))


def _reads_as_python(error: str) -> bool:
    """SpiffWorkflow failed evaluating Java-engine or ISO text as Python (a SyntaxError on `${…}`,
    a NameError on `PT1H`, …)."""
    return any(
        s in error for s in ("SyntaxError", "invalid syntax", "NameError", "is not defined", "${", "#{")
    )


def compare(models: Iterable[Model], make_engine: Callable[[], Engine]) -> dict[str, Any]:
    """Run every process of every model both ways; counts and the unclassified differences."""
    counts: Counter[str] = Counter()
    unclassified: list[str] = []
    engine = make_engine()
    try:
        for model in models:
            refused = deploy(engine, model)
            for pid in model.processes:
                reference = reference_run(model, pid)
                ours = refused if refused is not None else engine_run(engine, model, pid)
                counts["processes"] += 1
                if reference.behaviour() == ours.behaviour():
                    counts["both refuse" if reference.refused is not None else "identical"] += 1
                    continue
                kind = classify(model, reference, ours)
                counts[kind or "unclassified"] += 1
                if kind is None:
                    unclassified.append(
                        f"{model.file}#{pid}: SpiffWorkflow {reference.end or 'refused'} {reference.trace} "
                        f"{reference.refused or reference.error} | hennan_flow {ours.end or 'refused'} "
                        f"{ours.trace} {ours.refused or ours.error}"
                    )
    finally:
        engine.close()
    return {"counts": counts, "unclassified": unclassified}
