"""Material-name normalization (DESIGN §3 "Name matching").

A name is compared after: traditional → simplified (OpenCC `t2s`, since the county's documents come
in both), Unicode NFKC (full-width brackets and digits), whitespace and title marks removed, holder
prefixes stripped (法定代表人身份证 → 身份证) and copy markers stripped (身份证复印件 → 身份证). Two
names match when the results are equal. Names of forms (…申请表, …申请书, …登记表, …信息表) never
match the e-licence catalogue.

The word lists come from the catalogue (`[names]` in `catalogues/names.toml`, extendable by a county
file), so this module holds the procedure only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

__all__ = ["Normalizer", "to_simplified"]


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@cache
def _t2s() -> _Converter:
    import opencc

    converter: _Converter = opencc.OpenCC("t2s")
    return converter


def to_simplified(text: str) -> str:
    """Traditional → simplified characters (OpenCC t2s); simplified text passes unchanged."""
    return _t2s().convert(text) if text else text


_DROP = re.compile(r"[\s《》〈〉“”‘’\"'「」『』]+")
_JOINERS = ("、", "及", "和", "与", "或", "/", ",", "，", "+")


def _clean(text: str) -> str:
    return _DROP.sub("", to_simplified(unicodedata.normalize("NFKC", text)))


def _longest_first(words: Iterable[str]) -> tuple[str, ...]:
    cleaned = {_clean(w) for w in words}
    return tuple(sorted((w for w in cleaned if w), key=lambda w: (-len(w), w)))


@dataclass(frozen=True)
class Normalizer:
    """The name normalization of DESIGN §3, parameterised by the catalogue's word lists.

    Usage::

        n = Normalizer(holder_prefixes=("法定代表人",), copy_markers=("复印件",), form_suffixes=("申请表",))
        n.normalize("法定代表人身份證複印件")  # -> "身份证"
    """

    holder_prefixes: tuple[str, ...] = ()
    holder_keep: tuple[str, ...] = ()  # words that start like a holder but name an organ: 股东会
    copy_markers: tuple[str, ...] = ()
    form_suffixes: tuple[str, ...] = ()
    _copy_group: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "holder_prefixes", _longest_first(self.holder_prefixes))
        object.__setattr__(self, "holder_keep", _longest_first(self.holder_keep))
        object.__setattr__(self, "copy_markers", _longest_first(self.copy_markers))
        object.__setattr__(self, "form_suffixes", _longest_first(self.form_suffixes))
        words = "|".join(re.escape(w) for w in (*self.copy_markers, *_JOINERS))
        # "(复印件)", "(原件及复印件)": a bracketed group made only of copy markers and joiners
        group = rf"\((?:{words})+\)" if self.copy_markers else r"(?!x)x"
        object.__setattr__(self, "_copy_group", re.compile(group))

    # -- the steps -------------------------------------------------------------------------------
    def clean(self, name: str) -> str:
        """Simplified, NFKC, no whitespace or title marks; nothing stripped."""
        return _clean(name)

    def strip_holder(self, name: str) -> str:
        """Remove leading holder prefixes (法定代表人、股东…), keeping organ names such as 股东会."""
        text = name
        while True:
            if any(text.startswith(k) for k in self.holder_keep):
                return text
            prefix = next(
                (p for p in self.holder_prefixes if text.startswith(p) and len(text) > len(p)), None
            )
            if prefix is None:
                return text
            rest = text[len(prefix) :]
            rest = rest.removeprefix("的").removeprefix("之")
            while rest and rest.startswith(_JOINERS):
                rest = rest[1:]
            if not rest:
                return text
            text = rest

    def strip_copy(self, name: str) -> str:
        """Remove copy markers (复印件, 原件, 副本, 正本, 扫描件…) at the end or in brackets."""
        text = self._copy_group.sub("", name) or name
        while True:
            trimmed = text
            while trimmed.endswith(_JOINERS):
                trimmed = trimmed[:-1]
            marker = next(
                (m for m in self.copy_markers if trimmed.endswith(m) and len(trimmed) > len(m)), None
            )
            if marker is None:
                return trimmed or text
            text = trimmed[: -len(marker)]

    # -- what the rules use ----------------------------------------------------------------------
    def normalize(self, name: str) -> str:
        """The comparison form of a name: cleaned, holder prefixes and copy markers stripped."""
        return self.strip_copy(self.strip_holder(self.clean(name)))

    def light(self, name: str) -> str:
        """Cleaned and holder prefix stripped, copy markers kept (brackets around them dropped).

        Used for the covered side of known covered pairs, where "身份证复印件" must stay apart from
        "身份证".
        """
        text = self.clean(name)
        text = self._copy_group.sub(lambda m: m.group(0)[1:-1], text)
        return self.strip_holder(text)

    def is_form(self, name: str) -> bool:
        """True for the name of a form (…申请表, …申请书, …登记表, …信息表), which never matches an e-licence."""
        text = self.strip_copy(self.clean(name))
        return any(text.endswith(s) for s in self.form_suffixes)
