"""The bpmn-js moddle descriptor (`schemas/hf.json`) lets modelers edit every hf: element losslessly.

Two halves:
* without Node: the descriptor says what `hf.xsd` says (elements, attributes, value types, closed
  enumerations, which element holds which);
* with Node (skipped when `node`/`npm` are missing or `npm install` fails, e.g. offline): every
  bundle in `processes/` and the test fixture bundle go through bpmn-moddle's `fromXML` → `toXML`
  with the descriptor (tests/js/roundtrip.mjs), and every hf: element and attribute comes back, with
  no bpmn-moddle warning about an hf: element.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hennan_flow.bpmn.dialect import BPMN_NS, HF_NS, owner_id
from hennan_flow.bpmn.xmlsafe import parse_bytes
from hennan_flow.resources import schema_path

REPO = Path(__file__).resolve().parents[1]
JS = Path(__file__).parent / "js"
FIXTURES = Path(__file__).parent / "fixtures" / "validate"
DESCRIPTOR = schema_path("hf.json")
XS = "{http://www.w3.org/2001/XMLSchema}"
BUNDLES = [*sorted(REPO.glob("processes/*.bpmn")), FIXTURES / "bundles" / "clean_bundle.bpmn"]

# what each XSD built-in type becomes in moddle (anything else is a String)
_XSD_TO_MODDLE = {
    "xs:positiveInteger": "Integer",
    "xs:nonNegativeInteger": "Integer",
    "xs:integer": "Integer",
    "xs:boolean": "Boolean",
    "xs:decimal": "Real",
}


def descriptor() -> dict[str, Any]:
    return dict(json.loads(DESCRIPTOR.read_text(encoding="utf-8")))


def xsd() -> etree._Element:
    return etree.parse(str(schema_path("hf.xsd"))).getroot()


def _type_name(local: str) -> str:
    return local[0].upper() + local[1:]  # tagAlias lowerCase: <hf:legalBasis> is type LegalBasis


# -- the descriptor against the XSD (no Node needed) ------------------------------------------


def _moddle_type(xsd_type: str) -> str:
    """The moddle type of an XSD attribute type, following hf: simple types to their built-in base."""
    while xsd_type.startswith("hf:"):
        simple = xsd().find(f"{XS}simpleType[@name='{xsd_type[3:]}']")
        assert simple is not None, xsd_type
        restriction = simple.find(f"{XS}restriction")
        if restriction is None:  # a list type
            return "String"
        xsd_type = restriction.get("base")
    return _XSD_TO_MODDLE.get(xsd_type, "String")


def test_descriptor_package() -> None:
    d = descriptor()
    assert (d["name"], d["prefix"], d["uri"], d["xml"]) == (
        "HennanFlow",
        "hf",
        HF_NS,
        {"tagAlias": "lowerCase"},
    )
    names = [t["name"] for t in d["types"]]
    assert len(names) == len(set(names))
    for t in d["types"]:
        assert t["superClass"] == ["Element"], t["name"]


def test_descriptor_has_every_xsd_element_and_attribute() -> None:
    types = {t["name"]: t for t in descriptor()["types"]}
    elements = xsd().findall(f"{XS}element")
    assert {_type_name(e.get("name")) for e in elements} == set(types)
    for element in elements:
        t = types[_type_name(element.get("name"))]
        attrs = {p["name"]: p["type"] for p in t["properties"] if p.get("isAttr")}
        expected = {a.get("name"): _moddle_type(a.get("type")) for a in element.iter(f"{XS}attribute")}
        assert attrs == expected, t["name"]
        children = {p["type"]: p for p in t["properties"] if not p.get("isAttr")}
        expected_children = {
            _type_name(c.get("ref").split(":")[1]) for c in element.iterfind(f".//{XS}element")
        }
        assert set(children) == expected_children, t["name"]
        for child in children.values():
            assert child.get("isMany") is True, (t["name"], child)


def test_descriptor_enumerations_are_the_xsd_enumerations() -> None:
    from_xsd = {
        st.get("name"): [e.get("value") for e in st.iter(f"{XS}enumeration")]
        for st in xsd().findall(f"{XS}simpleType")
        if st.find(f"{XS}restriction/{XS}enumeration") is not None
    }
    from_json = {e["name"]: [v["name"] for v in e["literalValues"]] for e in descriptor()["enumerations"]}
    assert from_json == from_xsd


def test_descriptor_places_elements_where_design_says() -> None:
    allowed = {t["name"]: set(t.get("meta", {}).get("allowedIn", [])) for t in descriptor()["types"]}
    steps = {"bpmn:UserTask", "bpmn:ManualTask"}
    assert allowed == {
        "Bundle": {"bpmn:Process"},
        "Department": {"bpmn:Lane"},
        "Step": steps,
        "TimeLimit": {"bpmn:Process"} | steps,
        # a message catch's form: the data the message brings (Engine.deliver_message)
        "Form": steps | {"bpmn:IntermediateCatchEvent", "bpmn:ReceiveTask", "bpmn:BoundaryEvent"},
        "SpecialProcedure": steps,
        "Materials": steps,
        "Material": set(),  # only inside hf:materials
        "LegalBasis": set(),  # only inside hf:material
    }


def test_xsd_booleans_are_spelled_the_way_the_modeler_keeps_them() -> None:
    """bpmn-moddle reads a Boolean as `value === 'true'`: an XSD-valid "1" would be saved as "false"."""
    schema = etree.XMLSchema(xsd())
    material = etree.fromstring(
        f'<hf:material xmlns:hf="{HF_NS}" id="m" name="材料" necessity="required" source="applicant" commitment="1"/>'
    )
    assert not schema.validate(material), 'hf.xsd accepts commitment="1", which bpmn-js turns into "false"'


# -- the round trip through bpmn-moddle (Node) ------------------------------------------------


def _npm_dir() -> Path:
    """Outside the repo and reused across runs: one folder per version of tests/js/package.json."""
    if os.environ.get("HENNAN_FLOW_NPM_CACHE"):
        return Path(os.environ["HENNAN_FLOW_NPM_CACHE"])
    digest = hashlib.sha256((JS / "package.json").read_bytes()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "hennan-flow-npm" / digest


@pytest.fixture(scope="module")
def roundtrip() -> Callable[..., dict[str, Any]]:
    """Run tests/js/roundtrip.mjs: (files, descriptor=hf.json) -> {file: result}."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the bpmn-moddle round trip")
    work = _npm_dir()
    work.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "roundtrip.mjs"):
        shutil.copy(JS / name, work / name)
    if not (work / "node_modules" / "bpmn-moddle" / "package.json").is_file():
        try:
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--fetch-retries=1"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("npm install timed out (no network?)")
        if proc.returncode != 0:
            why = " / ".join(line for line in proc.stderr.splitlines()[:3] if line.strip())
            pytest.skip(f"npm install failed (no network?): {why}")

    def run(files: Iterable[Path], descriptor_file: Path = DESCRIPTOR) -> dict[str, Any]:
        proc = subprocess.run(
            [node, str(work / "roundtrip.mjs"), str(descriptor_file), *map(str, files)],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return {r["file"]: r for r in json.loads(proc.stdout)["results"]}

    return run


def hf_signature(xml: bytes, file: str) -> Counter[tuple[str, str, tuple[tuple[str, object], ...]]]:
    """Every hf: element as (owner element id + hf: path, tag, typed attributes), counted."""
    types = {t["name"]: {p["name"]: p["type"] for p in t["properties"]} for t in descriptor()["types"]}
    root = parse_bytes(xml, file=file).getroot()
    found: Counter[tuple[str, str, tuple[tuple[str, object], ...]]] = Counter()
    for el in root.iter(f"{{{HF_NS}}}*"):
        local = etree.QName(el).localname
        path = [local]
        parent = el.getparent()
        while parent is not None and etree.QName(parent).namespace == HF_NS:
            path.insert(0, etree.QName(parent).localname)
            parent = parent.getparent()
        props = types.get(_type_name(local), {})
        attrs = tuple(sorted((name, _typed(props.get(name), value)) for name, value in el.attrib.items()))
        found[(f"{owner_id(el)}/{'/'.join(path)}", local, attrs)] += 1
    return found


def _typed(kind: str | None, value: str) -> object:
    """An attribute value as its XSD type means it (so "0.80" and "0.8" are the same value)."""
    try:
        if kind == "Integer":
            return int(value)
        if kind == "Real":
            return float(value)
    except ValueError:
        return value
    if kind == "Boolean":
        return {"true": True, "1": True, "false": False, "0": False}.get(value.strip(), value)
    return value


def hf_warnings(result: dict[str, Any]) -> list[str]:
    return [
        w["message"]
        for w in result["warnings"]
        if (w["type"] or "").startswith("hf:") or "hf:" in w["message"] or HF_NS in w["message"]
    ]


def test_there_is_something_to_round_trip() -> None:
    source = BUNDLES[-1].read_bytes()
    assert sum(hf_signature(source, "clean").values()) == 18  # the fixture's own hf: elements


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_hf_survives_bpmn_moddle(roundtrip: Callable[..., dict[str, Any]], bundle: Path) -> None:
    result = roundtrip([bundle])[str(bundle)]
    assert result["error"] is None, result["error"]
    assert hf_warnings(result) == []
    before = hf_signature(bundle.read_bytes(), str(bundle))
    after = hf_signature(result["xml"].encode("utf-8"), str(bundle))
    assert before, f"{bundle.name} has no hf: elements"
    assert after == before, {"lost": before - after, "added": after - before}
    # and the round-tripped file still reads as the same bundles
    assert etree.QName(parse_bytes(result["xml"].encode("utf-8"), file="rt").getroot()).namespace == BPMN_NS


def test_round_trip_without_the_descriptor_is_caught(
    roundtrip: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    """The control: with an empty descriptor, bpmn-moddle warns about hf: elements and loses them."""
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({**descriptor(), "types": []}), encoding="utf-8")
    clean = BUNDLES[-1]
    result = roundtrip([clean], empty)[str(clean)]
    assert hf_warnings(result)
    assert hf_signature(result["xml"].encode("utf-8"), "rt") != hf_signature(clean.read_bytes(), "clean")


def test_unknown_hf_attribute_is_warned(roundtrip: Callable[..., dict[str, Any]]) -> None:
    path = FIXTURES / "cases" / "hf_unknown_attribute.bpmn"
    result = roundtrip([path])[str(path)]
    assert any("elicense" in w for w in hf_warnings(result)), result["warnings"]


def test_round_trip_catches_a_flipped_boolean(
    roundtrip: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    """The comparison sees values, not just names: bpmn-moddle saves commitment="1" as "false"."""
    clean = BUNDLES[-1]
    one = tmp_path / "one.bpmn"
    one.write_text(
        clean.read_text(encoding="utf-8").replace('commitment="true"', 'commitment="1"'), encoding="utf-8"
    )
    result = roundtrip([one])[str(one)]
    assert 'commitment="false"' in result["xml"]
    assert hf_signature(result["xml"].encode("utf-8"), "rt") != hf_signature(one.read_bytes(), "one")
