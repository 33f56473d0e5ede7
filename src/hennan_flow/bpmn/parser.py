"""The one seam between hennan_flow and SpiffWorkflow's parser.

* `HfBpmnParser` takes the tree our hardened parser built (`add_bpmn_xml`), so SpiffWorkflow never
  reads a file itself.
* Its process parser walks each process in post-order before SpiffWorkflow's own pass, so every
  node's successors already exist when the node is parsed: SpiffWorkflow's recursive parser then
  recurses one level deep instead of once per element, and long chains parse without touching the
  process-wide recursion limit of the portal that embeds us.
* Its task parsers read SpiffWorkflow's `spiffworkflow:` extensions as SpiffWorkflow's own
  spiff-arena parser does (`task_spec.extensions`), and give a step with `spiffworkflow:preScript`
  or `postScript` the script hooks of `runtime/scripts.py` (validate decides which extensions are
  refused: `fidelity.py`; the scripts run only where code tasks are enabled).
* Every task spec carries `hf_position`, its element's place in document order: the order in which
  steps that become ready together are listed.
* `build_specs` maps every exception SpiffWorkflow's parser raises (its ValidationException, which
  carries file and line only as attributes, and the TypeError/KeyError it raises on dangling
  references) onto `BpmnError` with file, line and element.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser

from ..errors import BpmnError, Location
from ..runtime.expressions import SPIFF_NS, rewrite_tree
from ..runtime.instances import bounded
from ..runtime.scripts import scripted
from ..runtime.timers import timer_parser
from .dialect import BPMN_NS

__all__ = ["HfBpmnParser", "ProcessSpecs", "build_specs"]

_B = f"{{{BPMN_NS}}}"


class HfProcessParser(ProcessParser):  # type: ignore[misc]
    """SpiffWorkflow's process parser, fed successors-first so it never recurses deeply."""

    def _index_process_nodes(self) -> None:
        """SpiffWorkflow's index, built with one walk: its XPath `.//*[@id]` is quadratic in libxml2
        on wide processes (a lane of 10,000 flowNodeRefs: 16 s), this walk linear."""
        for node in self.node.iterdescendants():
            node_id = node.get("id") if isinstance(node.tag, str) else None
            if node_id is None:
                continue
            self.nodes_by_id[node_id] = node
            tag = node.tag
            if tag.endswith("sequenceFlow"):
                self.outgoing_sequence_flows.setdefault(node.get("sourceRef"), []).append(node)
            elif tag.endswith("boundaryEvent"):
                self.boundary_events_by_attached.setdefault(node.get("attachedToRef"), []).append(node)
            elif tag.endswith("dataObjectReference"):
                self.data_object_references[node_id] = node
            elif tag.endswith("dataStoreReference"):
                self.data_store_references[node_id] = node

    def add_tasks(self) -> None:
        for node in self._post_order():
            self.parse_node(node)
        super().add_tasks()
        positions = self.parser.hf_positions(self.document_root)
        for spec in self.spec.task_specs.values():
            node = self.nodes_by_id.get(getattr(spec, "bpmn_id", None))
            if node is not None:
                spec.hf_position = positions.get(node)  # the element's place in its document

    def _post_order(self) -> list[etree._Element]:
        """Nodes reachable from the start events, each after all its (non-back-edge) successors."""
        parser_tags = set(self.parser.PARSER_CLASSES) | set(self.parser.OVERRIDE_PARSER_CLASSES)
        direct = {c.get("id"): c for c in self.node if c.tag in parser_tags and c.get("id")}
        boundary: dict[str, list[str]] = {}
        for nid, el in direct.items():
            if el.tag == _B + "boundaryEvent" and el.get("attachedToRef") in direct:
                boundary.setdefault(el.get("attachedToRef"), []).append(nid)

        def successors(nid: str) -> list[str]:
            out = [f.get("targetRef") for f in self.get_outgoing_sequence_flows(nid)]
            for b in boundary.get(nid, ()):
                out.extend(f.get("targetRef") for f in self.get_outgoing_sequence_flows(b))
            return [t for t in out if t in direct]

        order: list[etree._Element] = []
        seen: set[str] = set()
        starts = [nid for nid, el in direct.items() if el.tag == _B + "startEvent"]
        for start in starts:
            if start in seen:
                continue
            seen.add(start)
            stack: list[tuple[str, list[str]]] = [(start, successors(start))]
            while stack:
                nid, pending = stack[-1]
                if pending:
                    nxt = pending.pop()
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append((nxt, successors(nxt)))
                    continue
                stack.pop()
                if direct[nid].tag != _B + "boundaryEvent":
                    order.append(direct[nid])
        return order


_S = f"{{{SPIFF_NS}}}"
_LOOPS = (_B + "multiInstanceLoopCharacteristics", _B + "standardLoopCharacteristics")


class _SpiffExtensions:
    """A task parser that keeps `spiffworkflow:` extensions and runs pre-/post-scripts.

    A loop or multi-instance step runs its scripts once around all its instances, or on each
    instance with `spiffworkflow:scriptsOnInstances="true"`, as SpiffWorkflow does.
    """

    node: etree._Element
    task: Any

    def __init__(self, process_parser: Any, spec_class: Any, node: Any, nsmap: Any = None, lane: Any = None):
        ext = node.find(_B + "extensionElements")
        found = {} if ext is None else {k: ext.find(_S + k) for k in ("preScript", "postScript")}
        self.hf_scripts = {
            k: el.text for k, el in found.items() if el is not None and (el.text or "").strip()
        }
        loops = [child for child in node if child.tag in _LOOPS]
        self.hf_on_instances = bool(loops) and loops[0].get(_S + "scriptsOnInstances") == "true"
        if self.hf_scripts:
            spec_class = scripted(spec_class)
        super().__init__(process_parser, spec_class, node, nsmap, lane)  # type: ignore[call-arg]
        if self.hf_scripts and not self.hf_on_instances:
            for attr in ("STANDARD_LOOP_CLASS", "PARALLEL_MI_CLASS", "SEQUENTIAL_MI_CLASS"):
                setattr(self, attr, scripted(getattr(self, attr)))

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        return dict(SpiffTaskParser._parse_extensions(self.node if node is None else node))

    def create_task(self) -> Any:
        task = super().create_task()  # type: ignore[misc]
        if self.hf_scripts:
            task.hf_prescript = self.hf_scripts.get("preScript")
            task.hf_postscript = self.hf_scripts.get("postScript")
        return task

    def _copy_task_attrs(self, original: Any, loop_characteristics: Any = None) -> None:
        super()._copy_task_attrs(original, loop_characteristics)  # type: ignore[misc]
        if self.hf_scripts and not self.hf_on_instances:  # around all instances, not on each
            self.task.hf_prescript, self.task.hf_postscript = original.hf_prescript, original.hf_postscript
            original.hf_prescript = original.hf_postscript = None


def _task_parser(parser_class: type[Any]) -> type[Any]:
    """SpiffWorkflow's parser class with clock-injected timers, spiffworkflow: extensions and the
    multi-instance bound (`runtime/instances.py`)."""
    with_timers = timer_parser(parser_class)
    loops = {
        attr: bounded(getattr(with_timers, attr)) for attr in ("PARALLEL_MI_CLASS", "SEQUENTIAL_MI_CLASS")
    }
    return type(f"Hf{parser_class.__name__}", (_SpiffExtensions, with_timers), loops)


class HfBpmnParser(BpmnParser):  # type: ignore[misc]
    """SpiffWorkflow's plain BPMN parser (no spiffworkflow: service/DMN/message-payload semantics),
    fed our tree.

    Event parsers build clock-injected timers (`timers.py`); every task parser keeps
    `spiffworkflow:` extensions and runs pre-/post-scripts (`_SpiffExtensions`).
    """

    PROCESS_PARSER_CLASS = HfProcessParser
    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, Any]] = {
        tag: (_task_parser(parser), spec) for tag, (parser, spec) in BpmnParser.PARSER_CLASSES.items()
    }

    def hf_positions(self, root: etree._Element) -> dict[etree._Element, int]:
        """Every element of a document and its place in document order (computed once per document).

        Steps that become ready together come out in this order (`runtime.ready_user_tasks`).
        """
        cache: dict[int, tuple[etree._Element, dict[etree._Element, int]]] | None
        cache = getattr(self, "_hf_positions", None)
        if cache is None:
            cache = {}
            self._hf_positions = cache
        found = cache.get(id(root))
        if found is None or found[0] is not root:
            found = (root, {el: i for i, el in enumerate(root.iter())})
            cache[id(root)] = found
        return found[1]


@dataclass(frozen=True)
class ProcessSpecs:
    """The executable spec of one process and the specs of its subprocesses."""

    key: str
    spec: Any
    subprocess_specs: dict[str, Any]


def _line_of(tree: etree._ElementTree, element_id: str | None) -> int | None:
    if not element_id:
        return None
    found = tree.getroot().xpath("//*[@id=$i]", i=element_id)
    return found[0].sourceline if found else None


def _message(exc: BaseException) -> str:
    # SpiffWorkflowException.__str__ appends notes; the first argument is the message itself
    first = exc.args[0] if exc.args else type(exc).__name__
    return str(first).rstrip(". ") or type(exc).__name__


def spiff_error(exc: BaseException, tree: etree._ElementTree, file: str) -> BpmnError:
    """Map an exception from SpiffWorkflow's parser onto a BpmnError with file, line and element."""
    if isinstance(exc, ValidationException):
        element = getattr(exc, "id", None) or None
        line = getattr(exc, "line_number", None)
        if not isinstance(line, int):
            line = _line_of(tree, element)
        message = _message(exc)
        if "RecursionError" in message:
            return BpmnError(
                "流程图层次过深，SpiffWorkflow 的解析器无法处理（循环或链条过长）",
                hint="把流程拆分为调用活动（call activity），或缩短循环",
                location=Location(file=file, line=line, element=element),
            )
        return BpmnError(
            f"SpiffWorkflow 无法构建此流程：{message}",
            hint="按提示修正该元素；流程须能在 SpiffWorkflow 3.2.0 上运行",
            location=Location(file=file, line=line, element=element),
        )
    if isinstance(exc, RecursionError):
        return BpmnError(
            "流程图层次过深，SpiffWorkflow 的解析器无法处理（循环或链条过长）",
            hint="把流程拆分为调用活动（call activity），或缩短循环",
            location=Location(file=file),
        )
    return BpmnError(
        f"SpiffWorkflow 无法构建此流程（{type(exc).__name__}：{exc}）",
        hint="通常是某个引用（消息、信号、错误、升级、被调用的流程）指向了不存在的元素；"
        "运行 hennan-flow validate 查看具体元素",
        location=Location(file=file),
    )


def new_parser(tree: etree._ElementTree, file: str) -> HfBpmnParser:
    """A parser loaded with one document (errors mapped), its expressions as the sandbox runs them."""
    parser = HfBpmnParser()
    try:
        parser.add_bpmn_xml(rewrite_tree(tree), filename=file)
    except Exception as exc:  # the seam: every SpiffWorkflow parser error becomes a BpmnError
        raise spiff_error(exc, tree, file) from exc
    return parser


def build_specs(
    tree: etree._ElementTree,
    file: str,
    process_id: str,
    *,
    parser: HfBpmnParser | None = None,
    require_called: bool = True,
) -> ProcessSpecs:
    """Build the executable spec of `process_id` (and its subprocesses) from our parsed tree."""
    parser = parser or new_parser(tree, file)
    try:
        spec = parser.get_spec(process_id)
        subs = parser.get_subprocess_specs(process_id, require_call_activity_specs=require_called)
    except Exception as exc:  # the seam
        raise spiff_error(exc, tree, file) from exc
    return ProcessSpecs(key=process_id, spec=spec, subprocess_specs=dict(subs))
