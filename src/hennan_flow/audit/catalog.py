"""The audit's catalogues: e-licences, catch-all wording, vague legal bases, covered pairs, name words,
and the laws a legal basis may cite.

The packaged files (`hennan_flow/audit/catalogues/*.toml`) are read first, then each county file in
the order given; a county file extends the lists (an e-licence with a name already known adds its
aliases to that entry). Every file has the same shape::

    version = 1                       # optional
    [names]                           # word lists of the name normalization (names.py)
    holder_prefixes = ["法定代表人"]   holder_keep = ["股东会"]
    copy_markers = ["复印件"]          form_suffixes = ["申请表"]
    [[e_licence]]                     # one per licence type (电子证照)
    name = "居民身份证"  aliases = ["身份证"]  issuer = "公安机关"  category = "个人"
    since = 2022-07-25                # optional: only certificates issued since then are electronic
    [catch_all]                       # R5: catch-all wording standing for unnamed materials
    qualifiers = ["其他"]  fillers = ["需要", "的"]  generic = ["材料"]   # 其他(需要…的)材料 at the end
    phrases = ["视情况"]  patterns = ["等$"]                              # catch-all wherever they stand
    [commitment]                      # R3: materials the county settles by 告知承诺
    names = ["住所使用证明"]
    [vague_basis]                     # R10: a legal basis that is itself vague
    phrases = ["有关规定"]
    [[covered]]                       # R4: known covered pairs
    covered = ["身份证复印件"]  by = ["居民身份证"]  unconditional = false  reason = "…"
    [[law]]                           # R11: a document a legal basis may cite
    title = "中华人民共和国行政许可法"  aliases = ["行政许可法"]  level = "law"  articles = 83
    since = 2004-07-01  revised = 2019-04-23  repealed = 2099-01-01  checked = "where the text was read"

A file that cannot be read, is not TOML or breaks this shape raises `ConfigError` naming the file
and the line.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Location
from ..tomlfile import parse_toml, read_toml_text
from .legal import LEVELS, Law, title_keys
from .names import Normalizer, to_simplified

__all__ = ["Catalog", "CatchAll", "CoveredPair", "ELicence", "Law", "load_catalog", "packaged_catalogues"]

_TOP_KEYS = ("version", "names", "e_licence", "catch_all", "commitment", "vague_basis", "covered", "law")
_NAME_KEYS = ("holder_prefixes", "holder_keep", "copy_markers", "form_suffixes")
_LICENCE_KEYS = ("name", "aliases", "issuer", "category", "since")
_CATCH_KEYS = ("phrases", "patterns", "qualifiers", "fillers", "generic")
_CATCH_WORDS = ("qualifiers", "fillers", "generic")
_LAW_KEYS = ("title", "aliases", "level", "articles", "since", "revised", "repealed", "checked")
_VAGUE_KEYS = ("phrases",)
_COMMITMENT_KEYS = ("names",)
_COVERED_KEYS = ("covered", "by", "unconditional", "reason")
_TITLE = re.compile(r"《[^《》]*》")
_HINT = "格式参见随包的审查目录（hennan_flow/audit/catalogues/*.toml）和 docs/audit.md"


@dataclass(frozen=True)
class ELicence:
    """One e-licence type (电子证照): its catalogue name and the common names it goes by."""

    name: str
    aliases: tuple[str, ...] = ()
    issuer: str | None = None
    category: str | None = None
    source: str = ""
    since: date | None = None  # only certificates issued since then are electronic (新申领的…)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class CatchAll:
    """One catch-all phrase or pattern (R5), with the file it came from."""

    text: str
    pattern: re.Pattern[str]
    source: str = ""


@dataclass(frozen=True)
class CoveredPair:
    """A known covered pair (R4): `covered` is cancelled when `by` is collected, or always if unconditional."""

    covered: tuple[str, ...]
    by: tuple[str, ...] = ()
    unconditional: bool = False
    reason: str = ""
    source: str = ""


@dataclass(frozen=True)
class Catalog:
    """Everything the rules look up, already merged from the packaged and county files.

    Usage::

        catalog = load_catalog(["county.toml"])
        catalog.e_licence_for("法定代表人身份證")   # ELicence(name="居民身份证", ...)
    """

    normalizer: Normalizer = field(default_factory=Normalizer)
    e_licences: tuple[ELicence, ...] = ()
    catch_all: tuple[CatchAll, ...] = ()
    vague_basis: tuple[str, ...] = ()
    covered: tuple[CoveredPair, ...] = ()
    laws: tuple[Law, ...] = ()
    commitments: tuple[str, ...] = ()  # names of materials the county settles by written commitment (R3)
    sources: tuple[str, ...] = ()
    _index: dict[str, ELicence] = field(default_factory=dict, init=False, repr=False, compare=False)
    _laws: dict[str, Law] = field(default_factory=dict, init=False, repr=False, compare=False)
    _commitments: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    _vague: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)
    # per pair: covered names as compared (light or full), covering names (full), covering e-licence keys
    _pairs: tuple[tuple[CoveredPair, frozenset[str], frozenset[str], frozenset[str]], ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for lic in self.e_licences:
            for name in lic.names:
                self._index.setdefault(self.normalizer.normalize(name), lic)
        promised = frozenset(self.normalizer.normalize(n) for n in self.commitments)
        object.__setattr__(self, "_commitments", promised)
        for law in self.laws:
            for name in law.names:
                for key in title_keys(name):
                    self._laws.setdefault(key, law)
        vague = {self.normalizer.clean(p) for p in self.vague_basis}
        object.__setattr__(self, "_vague", tuple(sorted((v for v in vague if v), key=lambda v: (-len(v), v))))
        norm, light = self.normalizer.normalize, self.normalizer.light
        pairs = tuple(
            (
                pair,
                frozenset((norm if pair.unconditional else light)(c) for c in pair.covered),
                frozenset(norm(b) for b in pair.by),
                frozenset(self.e_licence_key(b) for b in pair.by),
            )
            for pair in self.covered
        )
        object.__setattr__(self, "_pairs", pairs)

    # -- e-licences ------------------------------------------------------------------------------
    def e_licence_for(self, name: str) -> ELicence | None:
        """The e-licence a material name denotes (normalized, exact), never for a form's name."""
        if not name or self.normalizer.is_form(name):
            return None
        return self._index.get(self.normalizer.normalize(name))

    def e_licence_key(self, value: str) -> str:
        """A canonical key for an `eLicense` attribute: the catalogue name, else the normalized value."""
        lic = self._index.get(self.normalizer.normalize(value))
        return lic.name if lic is not None else self.normalizer.normalize(value)

    def declared_licence(self, e_license: str) -> ELicence | None:
        """The catalogue entry of an `eLicense` attribute's value, or None for an unknown type."""
        return self._index.get(self.normalizer.normalize(e_license))

    def settles_by_commitment(self, name: str) -> bool:
        """True when the county's catalogue lists this material (normalized name) for 告知承诺 (R3)."""
        return self.normalizer.normalize(name) in self._commitments

    # -- laws ------------------------------------------------------------------------------------
    def law_for(self, doc: str) -> Law | None:
        """The catalogued document a legal basis cites (by its first 《title》), or None."""
        return next((self._laws[k] for k in title_keys(doc) if k in self._laws), None)

    # -- wording ---------------------------------------------------------------------------------
    def catch_all_in(self, name: str) -> str | None:
        """The catch-all wording in a material name (R5), or None.

        Qualifiers (其他, 有关, 相关…) count only where they stand for unnamed materials: followed,
        through fillers (需要, 提交, 的…), by a generic noun (材料, 证明, 文件…) that ends the name
        (copy markers aside) — 其他需要提交的材料, 场所有关证明, but never 其他继承人放弃继承权的声明.
        Phrases and patterns (视情况, 根据需要, …等$) count wherever they stand.
        """
        text = self.normalizer.strip_copy(self.normalizer.clean(name))
        for entry in self.catch_all:
            found = entry.pattern.search(text)
            if found is not None:
                return found.group(0) or entry.text
        return None

    def vague_in(self, doc: str) -> str | None:
        """The vague wording of a legal basis (R10) outside any 《title》, or None."""
        text = _TITLE.sub("", to_simplified(unicodedata.normalize("NFKC", doc)))
        text = re.sub(r"\s+", "", text)
        return next((v for v in self._vague if v in text), None)

    # -- covered pairs ---------------------------------------------------------------------------
    def covered_pairs_for(self, name: str) -> tuple[CoveredPair, ...]:
        """The known pairs whose covered side this material name is.

        Conditional pairs compare the name with copy markers kept (身份证复印件 is not 身份证);
        unconditional ones compare fully normalized names (组织机构代码证复印件 is 组织机构代码证).
        """
        light = self.normalizer.light(name)
        full = self.normalizer.normalize(name)
        return tuple(
            pair for pair, covered, _, _ in self._pairs if (full if pair.unconditional else light) in covered
        )

    def covers(self, pair: CoveredPair, name: str, e_license: str | None) -> bool:
        """True when a material (name, eLicense) is the covering side `by` of a pair."""
        entry = next(p for p in self._pairs if p[0] is pair)
        _, _, by_names, by_keys = entry
        if self.normalizer.normalize(name) in by_names and pair not in self.covered_pairs_for(name):
            return True
        return e_license is not None and self.e_licence_key(e_license) in by_keys


# -- loading -------------------------------------------------------------------------------------


def packaged_catalogues() -> list[Path]:
    """The catalogue files shipped in the package, in name order."""
    base = Path(str(resources.files("hennan_flow.audit"))) / "catalogues"
    return sorted(base.glob("*.toml"))


def load_catalog(paths: Sequence[str | Path] = ()) -> Catalog:
    """The packaged catalogues extended by county files (in order); raises ConfigError on a bad file."""
    if not paths:
        return _packaged_catalog()  # a Catalog is immutable: the packaged one is read once
    return _build(paths)


@cache
def _packaged_catalog() -> Catalog:
    return _build(())


def _build(county_files: Sequence[str | Path]) -> Catalog:
    builder = _Builder()
    for path in packaged_catalogues():
        builder.add_file(path)
    for county in county_files:
        builder.add_file(Path(county), display=str(county))
    return builder.build()


class _Locator:
    """Finds the line of a table, an array-of-tables entry or a key in TOML text (tomllib has none)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def table(self, name: str, index: int = 0) -> int | None:
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(name)}\s*\]\]?\s*(#.*)?$")
        hits = [i for i, line in enumerate(self.lines) if header.match(line)]
        return hits[index] + 1 if index < len(hits) else None

    def key(self, key: str, start: int | None = None) -> int | None:
        assign = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=|[{{,]\s*{re.escape(key)}\s*=")
        first = (start or 1) - 1
        for i in range(first, len(self.lines)):
            if assign.search(self.lines[i]):
                return i + 1
        return start

    def text(self, needle: str, start: int | None = None) -> int | None:
        first = (start or 1) - 1
        for i in range(first, len(self.lines)):
            if needle in self.lines[i]:
                return i + 1
        return start


class _Builder:
    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {k: [] for k in _NAME_KEYS}
        self.licences: dict[str, ELicence] = {}
        self.catch_all: list[CatchAll] = []
        self.vague: list[str] = []
        self.commitments: list[str] = []
        self.covered: list[CoveredPair] = []
        self.laws: dict[str, Law] = {}
        self.catch_words: dict[str, list[str]] = {k: [] for k in _CATCH_WORDS}
        self.sources: list[str] = []

    def build(self) -> Catalog:
        normalizer = Normalizer(
            holder_prefixes=tuple(self.names["holder_prefixes"]),
            holder_keep=tuple(self.names["holder_keep"]),
            copy_markers=tuple(self.names["copy_markers"]),
            form_suffixes=tuple(self.names["form_suffixes"]),
        )
        return Catalog(
            normalizer=normalizer,
            e_licences=tuple(self.licences.values()),
            catch_all=(*self._qualified(), *self.catch_all),
            vague_basis=tuple(dict.fromkeys(self.vague)),
            commitments=tuple(dict.fromkeys(self.commitments)),
            covered=tuple(self.covered),
            laws=tuple(self.laws.values()),
            sources=tuple(self.sources),
        )

    def _qualified(self) -> tuple[CatchAll, ...]:
        """One pattern: a qualifier, fillers or further qualifiers, a generic noun, the end of the name."""
        words = {
            k: sorted({to_simplified(w) for w in v}, key=lambda w: (-len(w), w))
            for k, v in self.catch_words.items()
        }
        if not words["qualifiers"] or not words["generic"]:
            return ()

        def alt(items: list[str]) -> str:
            return "|".join(re.escape(w) for w in items)

        link = alt(words["qualifiers"] + words["fillers"])
        pattern = rf"(?:{alt(words['qualifiers'])})(?:{link})*(?:{alt(words['generic'])})等?$"
        return (CatchAll("其他/有关/相关…+材料/证明/文件…", re.compile(pattern), "catch_all.qualifiers"),)

    def add_file(self, path: Path, display: str | None = None) -> None:
        source = display or path.name
        text = read_toml_text(path, what="审查目录文件", display=source, hint="检查 --catalog 给出的路径")
        self.add_text(text, source)

    def add_text(self, text: str, source: str) -> None:
        loc = _Locator(text)

        def fail(message: str, line: int | None) -> ConfigError:
            return ConfigError(f"审查目录：{message}", location=Location(file=source, line=line), hint=_HINT)

        data = parse_toml(text, fail)
        for key in data:
            if key not in _TOP_KEYS:
                raise fail(
                    f"未知的键 {key!r}（可用的键：{'、'.join(_TOP_KEYS)}）", loc.table(key) or loc.key(key)
                )
        version = data.get("version", 1)
        if version != 1:
            raise fail(f"version 须为 1，收到 {version!r}", loc.key("version"))

        def strings(value: Any, what: str, line: int | None) -> list[str]:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise fail(f"{what} 须为非空字符串的列表，收到 {value!r}", line)
            return [v.strip() for v in value]

        def day(entry: dict[str, Any], key: str, what: str, start: int | None) -> date | None:
            value = entry.get(key)
            if value is None:
                return None
            if isinstance(value, str):
                with contextlib.suppress(ValueError):  # reported below as not a date
                    value = date.fromisoformat(value.strip())
            if isinstance(value, datetime):
                value = value.date()
            if not isinstance(value, date):
                raise fail(f"{what}.{key} 须为日期（YYYY-MM-DD），收到 {value!r}", loc.key(key, start))
            return value

        def table(name: str, keys: tuple[str, ...]) -> dict[str, Any]:
            value = data.get(name, {})
            start = loc.table(name) or loc.key(name)
            if not isinstance(value, dict):
                raise fail(f"{name} 须为表 [{name}]", start)
            for key in value:
                if key not in keys:
                    raise fail(
                        f"[{name}] 中有未知的键 {key!r}（可用的键：{'、'.join(keys)}）", loc.key(key, start)
                    )
            return value

        def entries(name: str, keys: tuple[str, ...]) -> list[tuple[dict[str, Any], int | None]]:
            value = data.get(name, [])
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise fail(f"{name} 须为表数组 [[{name}]]", loc.table(name) or loc.key(name))
            out = []
            for i, entry in enumerate(value):
                start = loc.table(name, i)
                for key in entry:
                    if key not in keys:
                        raise fail(
                            f"[[{name}]] 中有未知的键 {key!r}（可用的键：{'、'.join(keys)}）",
                            loc.key(key, start),
                        )
                out.append((entry, start))
            return out

        names = table("names", _NAME_KEYS)
        for key in _NAME_KEYS:
            if key in names:
                self.names[key] += strings(names[key], f"names.{key}", loc.key(key, loc.table("names")))

        for entry, start in entries("e_licence", _LICENCE_KEYS):
            name_value = entry.get("name")
            if not isinstance(name_value, str) or not name_value.strip():
                raise fail('每个 [[e_licence]] 都须写 name = "…"', loc.key("name", start) or start)
            aliases = strings(entry.get("aliases", []), "e_licence.aliases", loc.key("aliases", start))
            for opt in ("issuer", "category"):
                if opt in entry and not isinstance(entry[opt], str):
                    raise fail(f"e_licence.{opt} 须为字符串", loc.key(opt, start))
            since = day(entry, "since", "e_licence", start)
            name = name_value.strip()
            known = self.licences.get(name)
            if known is not None:  # a county file adds names to a known licence (and may date it)
                merged = tuple(dict.fromkeys((*known.aliases, *aliases)))
                self.licences[name] = ELicence(
                    name, merged, known.issuer, known.category, known.source, since or known.since
                )
            else:
                self.licences[name] = ELicence(
                    name, tuple(aliases), entry.get("issuer"), entry.get("category"), source, since
                )

        catch = table("catch_all", _CATCH_KEYS)
        catch_start = loc.table("catch_all")
        for key in _CATCH_WORDS:
            self.catch_words[key] += strings(
                catch.get(key, []), f"catch_all.{key}", loc.key(key, catch_start)
            )
        for phrase in strings(catch.get("phrases", []), "catch_all.phrases", loc.key("phrases", catch_start)):
            self.catch_all.append(CatchAll(phrase, re.compile(re.escape(to_simplified(phrase))), source))
        for pattern in strings(
            catch.get("patterns", []), "catch_all.patterns", loc.key("patterns", catch_start)
        ):
            try:
                compiled = re.compile(to_simplified(pattern))
            except re.error as exc:
                raise fail(
                    f"catch_all.patterns：{pattern!r} 不是有效的正则表达式（{exc.msg}）",
                    loc.text(pattern, catch_start),
                ) from exc
            self.catch_all.append(CatchAll(pattern, compiled, source))

        promised = table("commitment", _COMMITMENT_KEYS)
        self.commitments += strings(
            promised.get("names", []), "commitment.names", loc.key("names", loc.table("commitment"))
        )

        vague = table("vague_basis", _VAGUE_KEYS)
        self.vague += strings(
            vague.get("phrases", []), "vague_basis.phrases", loc.key("phrases", loc.table("vague_basis"))
        )

        for entry, start in entries("covered", _COVERED_KEYS):
            covered = strings(entry.get("covered", []), "covered.covered", loc.key("covered", start) or start)
            if not covered:
                raise fail('每个 [[covered]] 都须写 covered = ["…"]', start)
            unconditional = entry.get("unconditional", False)
            if not isinstance(unconditional, bool):
                raise fail("covered.unconditional 须为 true 或 false", loc.key("unconditional", start))
            by = strings(entry.get("by", []), "covered.by", loc.key("by", start))
            if not by and not unconditional:
                raise fail('有条件的 [[covered]] 须写 by = ["…"]', start)
            reason = entry.get("reason", "")
            if not isinstance(reason, str):
                raise fail("covered.reason 须为字符串", loc.key("reason", start))
            self.covered.append(CoveredPair(tuple(covered), tuple(by), unconditional, reason, source))

        for entry, start in entries("law", _LAW_KEYS):
            title = entry.get("title")
            if not isinstance(title, str) or not title.strip():
                raise fail('每个 [[law]] 都须写 title = "…"', loc.key("title", start) or start)
            level = entry.get("level")
            if level not in LEVELS:
                raise fail(
                    f"law.level 须为 {'、'.join(LEVELS)} 之一，收到 {level!r}", loc.key("level", start)
                )
            articles = entry.get("articles")
            if articles is not None and (
                isinstance(articles, bool) or not isinstance(articles, int) or articles < 1
            ):
                raise fail(
                    f"law.articles 须为正整数，收到 {articles!r}",
                    loc.key("articles", start),
                )
            checked = entry.get("checked", "")
            if not isinstance(checked, str):
                raise fail("law.checked 须为字符串", loc.key("checked", start))
            law = Law(
                title=title.strip().strip("《》"),
                level=level,
                aliases=tuple(strings(entry.get("aliases", []), "law.aliases", loc.key("aliases", start))),
                articles=articles,
                since=day(entry, "since", "law", start),
                repealed=day(entry, "repealed", "law", start),
                revised=day(entry, "revised", "law", start),
                checked=checked,
                source=source,
            )
            self.laws[law.title] = law  # a county file may restate a packaged entry (its new text)
        self.sources.append(source)
