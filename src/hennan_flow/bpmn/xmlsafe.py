"""Hardened XML parsing for designer-supplied BPMN.

BPMN files come from designers, so they are untrusted: no DTD, no entities (XXE, billion laughs),
no network, a size bound, regular files only. The tree we build here (with its line numbers) is what
every later stage reads, SpiffWorkflow included (handed over with `add_bpmn_xml`), so nothing parses
a file twice with a weaker parser.

Encodings: a file is decoded here, once, by its byte order mark or its declared encoding (UTF-8,
UTF-16/32, GBK and GB18030, Latin-1 and the other encodings Python knows; GB2312/GBK are read as
their superset GB18030), and re-encoded as UTF-8 with the declaration saying so. Every later stage,
the stored definition included, sees that UTF-8 text (`Source.text`), so validate and deploy read the
same characters. A file whose bytes are not text in its declared (or the default UTF-8) encoding is
refused with the line of the first bad byte.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass

from lxml import etree

from ..errors import BpmnError, Location
from ..inputs import ReadRefused, read_input

__all__ = ["DEFAULT_MAX_BYTES", "Source", "parse_bytes", "parse_file", "read_source", "source_of_bytes"]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
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
_DECLARATION = re.compile(rb"<\?xml\s[^>]*?encoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._:-]*)[\"']")
_ENCODING_ATTR = re.compile(r"(\A\ufeff?<\?xml\s[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")
# read as their superset: files labelled GB2312 or GBK routinely hold GBK or GB18030 characters
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "euc_cn": "gb18030"}
_REFUSED = "不接受文档类型声明和实体（它们可以读取文件或耗尽内存）"
_REFUSED_HINT = "删去 <!DOCTYPE …>/<!ENTITY …> 声明；BPMN 2.0 文件不需要它们"
_ENCODING_HINT = '把文件另存为 UTF-8 编码，或声明它的实际编码，如 <?xml version="1.0" encoding="GB18030"?>'
_SIZE_HINT = "拆分文件；如果确实是一个事项包，就调高上限"


@dataclass(frozen=True)
class Source:
    """A parsed bundle file: its text as UTF-8 (declaration rewritten) and the tree built from it."""

    text: str
    tree: etree._ElementTree
    encoding: str  # the codec the file was read with, e.g. "utf-8", "gb18030", "utf-16"


def _declaration_line(text: str) -> int | None:
    """Line of a <!DOCTYPE/<!ENTITY declaration in the decoded text, whatever the file's encoding."""
    match = _DTD.search(text)
    return None if match is None else text.count("\n", 0, match.start()) + 1


def _codec(name: str, file: str) -> str:
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise BpmnError(
            f'文件声明的编码 encoding="{name}" 不是 hennan_flow 认识的文本编码',
            hint=_ENCODING_HINT,
            location=Location(file=file, line=1),
            code="XML-ENCODING",
        )
    return _SUPERSETS.get(info.name, info.name)


def _decode(data: bytes, file: str) -> tuple[str, str]:
    """(text, codec): by the byte order mark, else the declared encoding, else UTF-8."""
    encoding, declared = "utf-8", None
    for mark, wide in _WIDE:
        if data.startswith(mark):
            encoding = wide
            break
    else:
        if data.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        else:
            found = _DECLARATION.match(data)
            if found is not None:
                declared = found.group(1).decode("ascii")
                encoding = _codec(declared, file)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1 if "16" not in encoding and "32" not in encoding else None
        said = f'文件声明的编码为 encoding="{declared}"' if declared else "文件没有声明编码（按 UTF-8 读取）"
        raise BpmnError(
            f"字节 0x{data[exc.start]:02x} 不是 {encoding.upper().replace('-SIG', '')} 文本；{said}",
            hint=_ENCODING_HINT,
            location=Location(file=file, line=line),
            code="XML-ENCODING",
        ) from exc
    return text.removeprefix("\ufeff"), encoding.replace("-sig", "")


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


def source_of_bytes(data: bytes, *, file: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Source:
    """Decode and parse `data` safely; raise `BpmnError` with the file and line on anything refused."""
    if len(data) > max_bytes:
        raise BpmnError(
            f"文件有 {len(data):,} 字节，超过事项包 {max_bytes:,} 字节的上限",
            hint=_SIZE_HINT,
            location=Location(file=file),
            code="XML-SIZE",
        )
    text, encoding = _decode(data, file)
    line = _declaration_line(text)
    if line is not None:
        raise BpmnError(
            _REFUSED, hint=_REFUSED_HINT, location=Location(file=file, line=line), code="XML-UNSAFE"
        )
    text = _ENCODING_ATTR.sub(r"\1\2UTF-8\2", text, count=1)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=_parser())
    except etree.XMLSyntaxError as exc:
        reason = " ".join(exc.msg.split(", line ")[0].split()) if exc.msg else "无法解析"
        raise BpmnError(
            f"XML 格式不正确：{reason}",
            hint="用建模工具或 XML 编辑器打开文件，修正该行的语法",
            location=Location(file=file, line=exc.lineno or None),
            code="XML-SYNTAX",
        ) from exc
    if root is None:
        raise BpmnError("文件中没有 XML 元素", location=Location(file=file), code="XML-SYNTAX")
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:  # anything the scan missed
        raise BpmnError(_REFUSED, hint=_REFUSED_HINT, location=Location(file=file), code="XML-UNSAFE")
    return Source(text=text, tree=tree, encoding=encoding)


def parse_bytes(data: bytes, *, file: str, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """The tree of `source_of_bytes`."""
    return source_of_bytes(data, file=file, max_bytes=max_bytes).tree


def read_source(
    path: str | os.PathLike[str], *, display: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> Source:
    """Read (a regular file only, bounded by the bytes read) and parse; unreadable is a `BpmnError` too."""
    name = display or str(path)
    try:
        data = read_input(path, max_bytes=max_bytes)
    except ReadRefused as exc:
        code = "XML-SIZE" if exc.kind == "too_big" else "IO-READ"
        hint = _SIZE_HINT if code == "XML-SIZE" else exc.hint
        raise BpmnError(exc.message, hint=hint, location=Location(file=name), code=code) from exc
    return source_of_bytes(data, file=name, max_bytes=max_bytes)


def parse_file(
    path: str | os.PathLike[str], *, display: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> etree._ElementTree:
    """The tree of `read_source`."""
    return read_source(path, display=display, max_bytes=max_bytes).tree
