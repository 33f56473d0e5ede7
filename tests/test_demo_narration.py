"""The narration of `hennan-flow demo` is for county staff: Chinese throughout, with only ids, bundle
keys, user ids, codes and ISO instants left as they are, and its department column aligned by display
width (a CJK character takes two terminal columns)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from wcwidth import wcswidth

from hennan_flow.demo import run_demo
from hennan_flow.engine import Engine

# an ISO instant (2026-03-04T00:00:00+08:00) and a case or card id (a UUID) stay as they are
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
# the columns before the department: two spaces, the local time (16), two spaces
STEP_LINE = re.compile(r"^  \d{4}-\d\d-\d\d \d\d:\d\d  (\S+)( +)\S")
# the lines that carry a department (or 受理窗口 / 网上渠道) column
DEPARTMENT_LINES = ("— 办理人 ", "：暂停计时", "：恢复计时", "收到消息 ", " 已受理 — ", "容缺材料 ")


@pytest.fixture(scope="module")
def narrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], set[str]]]:
    """The demo's lines, and the codes it may print bare: department codes, user ids, bundle keys."""
    url = f"sqlite:///{tmp_path_factory.mktemp('narration') / 'demo.db'}"
    lines: list[str] = []
    result = run_demo(url, say=lines.append)
    assert result.completed == len(result.cases) == 6
    with Engine(url) as engine:
        directory = engine.directory()
        codes = set(directory.departments) | set(directory.users)
        codes |= {d.key for d in engine.definitions()}
    yield lines, codes


def _is_code(word: str, codes: set[str]) -> bool:
    """An id, key or code: a known code, or shaped like one (`premises_proof`, `amr-h1`, `v1`)."""
    return word in codes or any(c in word for c in "_-.") or any(c.isdigit() for c in word)


def test_the_narration_has_no_english_word(narrated: tuple[list[str], set[str]]) -> None:
    lines, codes = narrated
    english = {}
    for line in lines:
        bare = UUID.sub(" ", INSTANT.sub(" ", line))
        for word in WORD.findall(bare):
            if not _is_code(word, codes):
                english.setdefault(word, line)
    assert english == {}, english


def test_the_rule_catches_the_old_english_narration(narrated: tuple[list[str], set[str]]) -> None:
    """The check above can fail: the lines the demo printed before were English around their ids."""
    _, codes = narrated
    old = [
        "  2026-03-02 16:30  case completed on time (promised by 2026-03-04T00:00:00+08:00)",
        "  2026-03-23 10:30  衡南县市场监督管理局                   简易注销公示: resumed",
        "6 of 6 case(s) completed",
    ]
    for line in old:
        bare = UUID.sub(" ", INSTANT.sub(" ", line))
        assert [w for w in WORD.findall(bare) if not _is_code(w, codes)], line


def test_the_narration_pins_its_chinese_lines(narrated: tuple[list[str], set[str]]) -> None:
    lines, _ = narrated
    text = "\n".join(lines)
    assert lines[0] == "hennan_flow 演示：模拟数据库，模拟时钟 2026-03-02 09:00（北京时间）"
    assert lines[2].startswith("已部署：after_death v1、")
    assert "  审查错误：0" in lines
    assert "案件 1/6：企业开办一件事（enterprise_opening v1）— " in text
    assert re.search(r"案件 \S+ 已受理 — 窗口人员 window-wang", text)
    assert "电子证照 dereg_business_license：记为未核验（未配置电子证照核验服务）" in text
    assert (
        "容缺受理 officer_appointment（董事、监事和经理的任职文件）：暂缺，须于 2026-03-04 00:00 前补交"
        in text
    )
    assert "简易注销公示：暂停计时（特别程序，20 个自然日，不计入时限）— 操作人 amr-head" in text
    assert "简易注销公示：恢复计时" in text
    assert "企业设立登记 — 办理人 amr-h1" in text
    assert "  2026-03-02 16:30  案件已办结，按时（承诺时限 2026-03-04T00:00:00+08:00）" in lines
    assert "告知承诺 premises_proof：事后核查期限 2026-03-31 00:00" in text
    assert "  2026-03-02 18:40  好差评 1 非常满意（窗口）" in lines
    assert re.search(r"^电子监察：红牌 \S+，被亮牌部门 asb，环节 joint_application$", text, re.M)
    assert "  被拒绝：asb-h1（王明）属于被亮牌部门 asb" in text
    assert "  2026-09-03 09:00  电子监察 监察人员 jc-zhou 启动核查" in lines
    assert lines[-1] == "共 6 件案件，已办结 6 件"


def test_the_department_column_is_aligned_by_display_width(narrated: tuple[list[str], set[str]]) -> None:
    lines, _ = narrated
    starts = set()
    for line in lines:
        found = STEP_LINE.match(line)
        if found is None or not any(m in line for m in DEPARTMENT_LINES):
            continue
        starts.add(wcswidth(found.group(1)) + len(found.group(2)))
    # the longest department (衡南县人民政府办公室（政府信息公开工作机构）, 44 columns) keeps two spaces
    assert starts == {46}, starts


def test_the_audit_names_are_aligned_by_display_width(narrated: tuple[list[str], set[str]]) -> None:
    lines, _ = narrated
    rows = [line for line in lines if re.match(r"^  \S+ +\d+ → +\d+ ", line)]
    assert len(rows) == 9
    columns = {wcswidth(line[: line.index("→")]) for line in rows}
    assert len(columns) == 1, columns
