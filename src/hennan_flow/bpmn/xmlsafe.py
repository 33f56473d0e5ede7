"""Hardened XML parsing for designer-supplied BPMN.

BPMN files come from designers, so they are untrusted: no DTD, no entities (XXE, billion laughs),
no network, a size bound. The tree we build here (with its line numbers) is what every later stage
reads, SpiffWorkflow included (handed over with `add_bpmn_xml`), so nothing parses a file twice with
a weaker parser.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

from lxml import etree

from ..errors import BpmnError, Location

__all__ = ["DEFAULT_MAX_BYTES", "parse_bytes", "parse_file"]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# XML's own encoding autodetection (XML 1.0 appendix F): byte order marks and the bytes of "<?"
_WIDE = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
_REFUSED = "document type declarations and entities are refused (they can read files or exhaust memory)"
_REFUSED_HINT = "remove the <!DOCTYPE …>/<!ENTITY …> declaration; BPMN 2.0 needs none"


def _declaration_line(data: bytes) -> int | None:
    """Line of a <!DOCTYPE/<!ENTITY declaration, also in UTF-16/32 files (a byte scan cannot see those)."""
    text = data
    for mark, encoding in _WIDE:
        if data.startswith(mark):
            text = data.decode(encoding, errors="replace").encode("utf-8")
            break
    match = _DTD.search(text)
    return None if match is None else text.count(b"\n", 0, match.start()) + 1


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=True,
    )


def parse_bytes(data: bytes, *, file: str, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """Parse `data` safely; raise `BpmnError` with the file and line on anything refused."""
    if len(data) > max_bytes:
        raise BpmnError(
            f"file is {len(data):,} bytes, over the {max_bytes:,}-byte limit for a bundle",
            hint="split the file, or raise the limit if it really is one bundle",
            location=Location(file=file),
            code="XML-SIZE",
        )
    line = _declaration_line(data)
    if line is not None:
        raise BpmnError(
            _REFUSED, hint=_REFUSED_HINT, location=Location(file=file, line=line), code="XML-UNSAFE"
        )
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        reason = " ".join(exc.msg.split(", line ")[0].split()) if exc.msg else "not well-formed XML"
        raise BpmnError(
            f"not well-formed XML: {reason}",
            hint="open the file in a modeler or an XML editor and fix the syntax at that line",
            location=Location(file=file, line=exc.lineno or None),
            code="XML-SYNTAX",
        ) from exc
    if root is None:
        raise BpmnError("the file holds no XML element", location=Location(file=file), code="XML-SYNTAX")
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:  # any encoding the scan missed
        raise BpmnError(_REFUSED, hint=_REFUSED_HINT, location=Location(file=file), code="XML-UNSAFE")
    return tree


def parse_file(
    path: str | os.PathLike[str], *, display: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> etree._ElementTree:
    """Read and parse a file; a missing or unreadable file is a `BpmnError` too."""
    p = Path(path)
    name = display or str(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:  # do not read a huge file into memory just to refuse it
            raise BpmnError(
                f"file is {size:,} bytes, over the {max_bytes:,}-byte limit for a bundle",
                hint="split the file, or raise the limit if it really is one bundle",
                location=Location(file=name),
                code="XML-SIZE",
            )
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise BpmnError(
            "no such file", hint="check the path", location=Location(file=name), code="IO-READ"
        ) from exc
    except IsADirectoryError as exc:
        raise BpmnError("is a directory, not a file", location=Location(file=name), code="IO-READ") from exc
    except PermissionError as exc:
        raise BpmnError("permission denied", location=Location(file=name), code="IO-READ") from exc
    except OSError as exc:
        raise BpmnError(f"cannot read: {exc.strerror}", location=Location(file=name), code="IO-READ") from exc
    return parse_bytes(data, file=name, max_bytes=max_bytes)
