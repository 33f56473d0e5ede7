"""The legal-basis catalogue (DESIGN §12): laws and regulations a `hf:legalBasis` may cite.

Each entry gives the document's title (and the short names it goes by), its level (law,
admin_regulation, local_regulation, rule, normative_doc), how many articles its text in force has,
the date it has been in force since, and, once repealed, the date it was repealed on. R11 compares
every citation with it; R1 takes a catalogued document's level from here rather than from the
citation. A citation names a document by its 《title》 (the first one, if it names several); titles
are compared after traditional → simplified conversion and NFKC, without whitespace, with a trailing
version note such as （2023年修订） dropped and with or without the leading 中华人民共和国.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from .names import to_simplified

__all__ = ["LEVELS", "LEVEL_NAMES", "Law", "article_numbers", "title_keys"]

LEVELS = ("law", "admin_regulation", "local_regulation", "rule", "normative_doc")
LEVEL_NAMES = {
    "law": "法律",
    "admin_regulation": "行政法规",
    "local_regulation": "地方性法规",
    "rule": "规章",
    "normative_doc": "规范性文件",
}
_PREFIX = "中华人民共和国"
_TITLE = re.compile(r"《([^《》]+)》")
_VERSION = re.compile(r"[(（][^()（）]*(修订|修正|修改|版|试行|暂行|施行)[^()（）]*[)）]$")
_ARTICLE = re.compile(r"第\s*([零〇一二两三四五六七八九十百千0-9]+)\s*条")
_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}


@dataclass(frozen=True)
class Law:
    """One catalogued document: its title, level, article count and dates."""

    title: str
    level: str
    aliases: tuple[str, ...] = ()
    articles: int | None = None
    since: date | None = None
    repealed: date | None = None
    revised: date | None = None  # the date of the text whose articles were counted
    checked: str = ""  # where the entry was checked against the published text
    source: str = ""  # the catalogue file it came from

    @property
    def names(self) -> tuple[str, ...]:
        return (self.title, *self.aliases)

    def repealed_by(self, today: date) -> bool:
        return self.repealed is not None and self.repealed <= today


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    total, digit = 0, 0
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            total += (digit or 1) * _UNITS[ch]
            digit = 0
    return total + digit


def article_numbers(article: str | None) -> tuple[int, ...]:
    """The article numbers a citation's `article` names: 第二十六条 → (26,), 第25条第(三)项 → (25,).

    A bare number ("26", "§26") counts too; text naming no article (第三章) gives ().
    """
    if not article:
        return ()
    text = unicodedata.normalize("NFKC", article)
    found = tuple(_number(m.group(1)) for m in _ARTICLE.finditer(text))
    if found:
        return found
    bare = re.fullmatch(r"\s*§?\s*(\d+)\s*", text)
    return (int(bare.group(1)),) if bare else ()


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", to_simplified(unicodedata.normalize("NFKC", text)))


def title_keys(doc: str) -> tuple[str, ...]:
    """The forms under which a cited document (or a catalogue name) is looked up."""
    text = unicodedata.normalize("NFKC", doc)
    found = _TITLE.search(text)
    title = _clean(found.group(1) if found else text).strip("《》")
    title = _VERSION.sub("", title)
    if not title:
        return ()
    bare = title.removeprefix(_PREFIX)
    return tuple(dict.fromkeys(k for k in (title, bare, _PREFIX + bare) if k))
