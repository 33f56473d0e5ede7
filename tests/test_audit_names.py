"""Name matching (DESIGN §3): traditional characters, holder prefixes, copy markers, form names; catalogues."""

from __future__ import annotations

from pathlib import Path

import pytest

from hennan_flow.audit import load_catalog
from hennan_flow.audit.catalog import Catalog
from hennan_flow.audit.names import to_simplified
from hennan_flow.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures" / "audit"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_traditional_characters_are_converted() -> None:
    assert to_simplified("營業執照") == "营业执照"
    assert to_simplified("居民身份證") == "居民身份证"
    assert to_simplified("學曆學位證") == "学历学位证"


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("法定代表人身份证", "身份证"),  # holder prefix
        ("法定代表人身份證複印件", "身份证"),  # traditional + holder + copy marker
        ("申请人的户口簿", "户口簿"),  # holder + 的
        ("法定代表人、股东身份证", "身份证"),  # several holders
        ("身份证原件及复印件", "身份证"),  # several copy markers with a joiner
        ("身份证（复印件）", "身份证"),  # full-width bracketed marker
        ("营业执照副本", "营业执照"),
        ("結（離）婚證", "结(离)婚证"),  # NFKC brackets
        ("买卖双方身份证", "身份证"),  # the parties of one transaction (issue 18)
        ("夫妻双方的户口簿", "户口簿"),
        ("父母双方身份证复印件", "身份证"),
        ("男女双方户口簿", "户口簿"),
        ("转让方、受让方营业执照", "营业执照"),
        ("抵押权人营业执照", "营业执照"),
        ("买卖合同", "买卖合同"),  # a document of the parties, not a holder
        ("夫妻关系证明", "夫妻关系证明"),
        ("股东会决议", "股东会决议"),  # an organ, not a holder
        ("股東會決議", "股东会决议"),
        ("复印件", "复印件"),  # never stripped to nothing
        (" 公司 章程 ", "公司章程"),
    ],
)
def test_normalize(catalog: Catalog, name: str, normalized: str) -> None:
    assert catalog.normalizer.normalize(name) == normalized


@pytest.mark.parametrize(
    ("name", "licence"),
    [
        ("居民身份证", "居民身份证"),
        ("身份证", "居民身份证"),  # a common name
        ("法定代表人身份證複印件", "居民身份证"),
        ("经办人居民身份证原件", "居民身份证"),
        ("營業執照", "营业执照"),
        ("营业执照副本", "营业执照"),
        ("户口本", "户口簿"),
        ("父母结婚证", "结(离)婚证"),
        ("新生儿出生医学证明", "出生医学证明"),
        ("不动产权证书", "不动产权证书"),
        ("机动车驾驶证", "机动车驾驶证"),
        ("社保卡", "社会保障卡"),
    ],
)
def test_e_licence_matches(catalog: Catalog, name: str, licence: str) -> None:
    found = catalog.e_licence_for(name)
    assert found is not None and found.name == licence


@pytest.mark.parametrize(
    "name",
    [
        "公司章程",
        "身份证明",  # not an ID card: a proof of identity, no catalogue name
        "居民身份证申请表",  # a form
        "营业执照申请书",
        "户口登记表",
        "社会保障卡信息表",
        "身份证号码",  # contains the name, does not equal it
    ],
)
def test_no_e_licence(catalog: Catalog, name: str) -> None:
    assert catalog.e_licence_for(name) is None


def test_form_names_never_match_even_when_a_catalogue_lists_them() -> None:
    county = load_catalog([FIXTURES / "county.toml"])  # lists 常住人口登记表 as an alias of 户口簿
    assert county.normalizer.is_form("常住人口登记表")
    assert county.e_licence_for("常住人口登记表") is None
    assert county.e_licence_for("户籍簿") is not None  # the other alias is added to 户口簿
    assert county.e_licence_for("户籍簿").name == "户口簿"  # type: ignore[union-attr]


def test_county_catalogue_extends_the_packaged_one() -> None:
    base = load_catalog()
    county = load_catalog([str(FIXTURES / "county.toml")])
    assert base.e_licence_for("殘疾人證") is None
    found = county.e_licence_for("殘疾人證")  # traditional alias in the county file
    assert found is not None and found.name == "残疾人证" and found.source.endswith("county.toml")
    assert county.normalizer.normalize("房东身份证") == "身份证"  # county holder prefix
    assert base.normalizer.normalize("房东身份证") == "房东身份证"
    assert (
        county.catch_all_in("其他补充材料") == "其他补充材料"
    )  # the wording that stands for unnamed materials
    assert county.catch_all_in("补充材料清单") == "补充材料"
    assert county.vague_in("县里文件") == "县里文件"
    assert county.covered_pairs_for("开户许可证")[0].unconditional
    assert county.sources[-1].endswith("county.toml")


def test_catch_all_and_vague_wording(catalog: Catalog) -> None:
    assert catalog.catch_all_in("其他有關材料") == "其他有关材料"  # quoted as found: qualifiers and the noun
    assert catalog.catch_all_in("身份证、户口簿等") == "等"
    assert catalog.catch_all_in("规定的其他证明文件") is not None
    assert catalog.catch_all_in("股东会决议") is None
    # DESIGN §12, R5 by meaning: catch-all wording inside a named thing is no catch-all
    assert catalog.catch_all_in("其他继承人放弃继承权的声明") is None
    assert catalog.catch_all_in("满足施工需要的施工图纸及技术资料") is None
    assert catalog.catch_all_in("场所有關證明") == "有关证明"
    assert catalog.catch_all_in("其他材料（复印件）") == "其他材料"  # copy markers aside
    assert catalog.catch_all_in("视情况提供的补充说明") == "视情况"
    assert catalog.vague_in("国家有关规定") == "有关规定"
    assert catalog.vague_in("《中华人民共和国公司法》及相关文件") == "相关文件"
    assert catalog.vague_in("《国务院关于取消一批有关规定证明事项的决定》") is None  # inside a title
    assert catalog.vague_in("《中华人民共和国公司法》") is None


def test_covered_pairs(catalog: Catalog) -> None:
    (copy_pair,) = catalog.covered_pairs_for("申请人身份证复印件")
    assert not copy_pair.unconditional
    assert catalog.covers(copy_pair, "居民身份证", None)
    assert catalog.covers(copy_pair, "户主信息", "身份证")  # matched by its eLicense
    assert not catalog.covers(copy_pair, "身份证扫描件", None)  # another copy does not cover a copy
    assert catalog.covered_pairs_for("居民身份证") == ()  # the original is not its own copy
    (merged,) = catalog.covered_pairs_for("稅務登記證副本")
    assert merged.unconditional


@pytest.mark.parametrize(
    ("fixture", "line", "words"),
    [
        ("catalog_malformed.toml", 5, "不是有效的 TOML"),
        ("catalog_unknown_key.toml", 6, "中有未知的键 'alias'"),
        ("catalog_bad_pattern.toml", 6, "不是有效的正则表达式"),
    ],
)
def test_bad_catalogue_names_file_and_line(fixture: str, line: int, words: str) -> None:
    path = FIXTURES / fixture
    with pytest.raises(ConfigError) as caught:
        load_catalog([str(path)])
    err = caught.value
    assert err.location is not None and err.location.file == str(path) and err.location.line == line
    assert words in err.message
    assert str(err).startswith(f"{path}:{line}: 审查目录：")


def test_missing_catalogue_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="无法读取审查目录文件：文件不存在"):
        load_catalog([str(tmp_path / "nope.toml")])


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("version = 2\n", 1, "version 须为 1"),
        ('colour = "red"\n', 1, "未知的键 'colour'"),
        ('[names]\nholder_prefixes = "法人"\ncopy = []\n', 3, "[names] 中有未知的键 'copy'"),
        ("[[e_licence]]\naliases = []\n", 1, "都须写 name"),
        ('[[covered]]\ncovered = ["甲"]\n', 1, "须写 by"),
        ("[catch_all]\nphrases = [1, 2]\n", 2, "须为非空字符串的列表"),
        (
            '[[e_licence]]\nname = "甲"\n\n[[e_licence]]\nname = "乙"\nissuer = 3\n',
            6,
            "e_licence.issuer 须为字符串",
        ),
    ],
)
def test_catalogue_shape_errors(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "county.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_catalog([path])
    assert caught.value.location is not None and caught.value.location.line == line
    assert words in caught.value.message
