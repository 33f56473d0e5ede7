"""Hardened XML parsing for designer-supplied BPMN.

BPMN files come from designers, so they are untrusted: no DTD, no entities (XXE, billion laughs),
no network, a size bound. The tree we build here (with its line numbers) is what every later stage
reads, SpiffWorkflow included (handed over with `add_bpmn_xml`), so nothing parses a file twice with
a weaker parser.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lxml import etree

from .errors import BpmnError, Location

__all__ = ["DEFAULT_MAX_BYTES", "parse_bytes", "parse_file"]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


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
        )
    match = _DTD.search(data)
    if match is not None:
        line = data.count(b"\n", 0, match.start()) + 1
        raise BpmnError(
            "document type declarations and entities are refused (they can read files or exhaust memory)",
            hint="remove the <!DOCTYPE …>/<!ENTITY …> declaration; BPMN 2.0 needs none",
            location=Location(file=file, line=line),
        )
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        reason = exc.msg.split(", line ")[0] if exc.msg else "not well-formed XML"
        raise BpmnError(
            f"not well-formed XML: {reason}",
            hint="open the file in a modeler or an XML editor and fix the syntax at that line",
            location=Location(file=file, line=exc.lineno or None),
        ) from exc
    if root is None:
        raise BpmnError("the file holds no XML element", location=Location(file=file))
    return root.getroottree()


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
            )
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise BpmnError("no such file", hint="check the path", location=Location(file=name)) from exc
    except IsADirectoryError as exc:
        raise BpmnError("is a directory, not a file", location=Location(file=name)) from exc
    except PermissionError as exc:
        raise BpmnError("permission denied", location=Location(file=name)) from exc
    except OSError as exc:
        raise BpmnError(f"cannot read: {exc.strerror}", location=Location(file=name)) from exc
    return parse_bytes(data, file=name, max_bytes=max_bytes)
