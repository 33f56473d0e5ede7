"""The county directory file (DESIGN §8): departments, users with their roles, supervision settings.

A file is parsed whole; any problem (unknown key or role, a user in an unknown department, a
duplicate id, a cycle of superiors) raises one `ConfigError` with the file, the line and the fix, so
nothing of a malformed file is ever stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, Location
from ..limits import printable
from ..tomlfile import parse_toml

__all__ = [
    "ROLES",
    "SUPERVISION_DEFAULTS",
    "Directory",
    "DirectoryDepartment",
    "DirectoryUser",
    "parse_directory",
]

ROLES: tuple[str, ...] = (
    "clerk",
    "handler",
    "head",
    "supervisor",
    "reviewer",
    "discipline",
    "auditor",
    "admin",
    "portal",
)
"""The closed role set of DESIGN §8."""

SUPERVISION_DEFAULTS: Mapping[str, int | bool] = {
    "verify_within": 3,
    "rectify_within": 10,
    "review_within": 5,
    "revisit_within": 3,
    "escalate_yellow": True,
    "suspend_limit": 20,
}

_TOP_KEYS = ("version", "department", "user", "supervision")
_DEPARTMENT_KEYS = ("code", "name", "superior", "external")
_USER_KEYS = ("id", "name", "departments", "roles", "active")
_ID_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_HINT = (
    '例如写 version = "hengnan-2026-12"，[[department]] code = "amr" name = "…" superior = "hy-amr"，'
    '[[user]] id = "amr-li" name = "李明" departments = ["amr"] roles = ["handler"]（参见 README：部门与人员目录）'
)


@dataclass(frozen=True)
class DirectoryDepartment:
    code: str
    name: str
    superior: str | None = None
    external: bool = False


@dataclass(frozen=True)
class DirectoryUser:
    id: str
    name: str
    departments: tuple[str, ...]
    roles: tuple[str, ...]
    active: bool = True


@dataclass(frozen=True)
class Directory:
    """A parsed directory file; `departments` and `users` keyed by code and id."""

    version: str
    departments: Mapping[str, DirectoryDepartment]
    users: Mapping[str, DirectoryUser]
    supervision: Mapping[str, int | bool] = field(default_factory=lambda: dict(SUPERVISION_DEFAULTS))

    def user(self, user_id: str) -> DirectoryUser | None:
        return self.users.get(user_id)

    def department(self, code: str) -> DirectoryDepartment | None:
        return self.departments.get(code)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "departments": [
                {"code": d.code, "name": d.name, "superior": d.superior, "external": d.external}
                for d in self.departments.values()
            ],
            "users": [
                {
                    "id": u.id,
                    "name": u.name,
                    "departments": list(u.departments),
                    "roles": list(u.roles),
                    "active": u.active,
                }
                for u in self.users.values()
            ],
            "supervision": dict(self.supervision),
        }


def _line(text: str, needle: str, after: int = 0) -> int | None:
    lines = text.splitlines()
    for i in range(max(after - 1, 0), len(lines)):
        if needle in lines[i]:
            return i + 1
    for i, line in enumerate(lines):
        if needle in line:
            return i + 1
    return None


def _table_lines(text: str, header: str) -> list[int]:
    """The line of each `[[header]]` table, in order."""
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(header)}\s*\]\]")
    return [i + 1 for i, line in enumerate(text.splitlines()) if pattern.match(line)]


def parse_directory(text: str, source: str = "<file>") -> Directory:
    """Parse a directory file; a malformed one raises `ConfigError` naming the file, line and fix."""

    def fail(message: str, line: int | None, hint: str = _HINT) -> ConfigError:
        return ConfigError(f"部门与人员目录：{message}", location=Location(file=source, line=line), hint=hint)

    data = parse_toml(text, fail)
    for key in data:
        if key not in _TOP_KEYS:
            raise fail(f"未知的键 {printable(key)}（可用的键：{'、'.join(_TOP_KEYS)}）", _line(text, key))
    version = data.get("version")
    if not isinstance(version, str) or not _ID_TEXT.fullmatch(version):
        raise fail(
            "version 须为由字母、数字、'.'、'_' 或 '-' 组成的名称",
            _line(text, "version") or 1,
            hint='写成 version = "hengnan-2026-12"（每次修改都换一个新的）',
        )
    raw_departments = data.get("department", [])
    raw_users = data.get("user", [])
    if not isinstance(raw_departments, list) or not raw_departments:
        raise fail("目录中没有 [[department]]", _line(text, "department"))
    if not isinstance(raw_users, list):
        raise fail("user 须为 [[user]] 表", _line(text, "user"))
    dept_lines = _table_lines(text, "department")
    user_lines = _table_lines(text, "user")

    departments: dict[str, DirectoryDepartment] = {}
    where_dept: dict[str, int | None] = {}
    for i, item in enumerate(raw_departments):
        at = dept_lines[i] if i < len(dept_lines) else None
        if not isinstance(item, dict):
            raise fail("每个部门都须为 [[department]] 表", at)
        for key in item:
            if key not in _DEPARTMENT_KEYS:
                raise fail(
                    f"department：未知的键 {printable(key)}（可用的键：{'、'.join(_DEPARTMENT_KEYS)}）",
                    _line(text, key, at or 0),
                )
        code, name = item.get("code"), item.get("name")
        if not isinstance(code, str) or not _ID_TEXT.fullmatch(code):
            raise fail("department：code 须为泳道的 hf:department 代码", at)
        if not isinstance(name, str) or not name.strip():
            raise fail(f"部门 {code}：name 须为部门全称", at)
        if code in departments:
            raise fail(
                f"部门 {code} 列了两次（第一次在第 {where_dept[code]} 行）",
                at,
                hint="每个代码只保留一个 [[department]]",
            )
        superior = item.get("superior")
        if superior is not None and not isinstance(superior, str):
            raise fail(f"部门 {code}：superior 须为部门代码", at)
        external = item.get("external", False)
        if not isinstance(external, bool):
            raise fail(f"部门 {code}：external 须为 true 或 false", at)
        departments[code] = DirectoryDepartment(code, name.strip(), superior, external)
        where_dept[code] = at

    for code, dept in departments.items():
        if dept.superior is not None and dept.superior not in departments:
            raise fail(
                f"部门 {code}：上级 {printable(dept.superior)} 不是目录中的部门",
                _line(text, dept.superior, where_dept[code] or 0),
                hint=f"加上 [[department]] code = {dept.superior!r}（县外部门写 external = true）",
            )
    for code in departments:
        seen = [code]
        current = departments[code].superior
        while current is not None:
            if current in seen:
                chain = " → ".join([*seen[seen.index(current) :], current])
                raise fail(
                    f"上级关系形成循环：{chain}",
                    where_dept[code],
                    hint="部门的上级链条须止于一个没有上级的部门",
                )
            seen.append(current)
            current = departments[current].superior

    users: dict[str, DirectoryUser] = {}
    where_user: dict[str, int | None] = {}
    for i, item in enumerate(raw_users):
        at = user_lines[i] if i < len(user_lines) else None
        if not isinstance(item, dict):
            raise fail("每个用户都须为 [[user]] 表", at)
        for key in item:
            if key not in _USER_KEYS:
                raise fail(
                    f"user：未知的键 {printable(key)}（可用的键：{'、'.join(_USER_KEYS)}）",
                    _line(text, key, at or 0),
                )
        uid, name = item.get("id"), item.get("name")
        if not isinstance(uid, str) or not _ID_TEXT.fullmatch(uid) or uid == "system":
            raise fail("user：id 须为由字母、数字、'.'、'_' 或 '-' 组成的登录名（不能是 system）", at)
        if uid in users:
            raise fail(
                f"用户 {uid} 列了两次（第一次在第 {where_user[uid]} 行）",
                at,
                hint="每个 id 只保留一个 [[user]]",
            )
        if not isinstance(name, str) or not name.strip():
            raise fail(f"用户 {uid}：name 须为本人姓名", at)
        depts = item.get("departments", [])
        roles = item.get("roles", [])
        if not isinstance(depts, list) or not all(isinstance(d, str) for d in depts):
            raise fail(f"用户 {uid}：departments 须为部门代码的列表", at)
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            raise fail(f"用户 {uid}：roles 须为角色的列表（{'、'.join(ROLES)}）", at)
        for d in depts:
            if d not in departments:
                raise fail(
                    f"用户 {uid}：部门 {printable(d)} 不在目录中",
                    _line(text, d, at or 0),
                    hint=f"加上 [[department]] code = {d!r}，或改正代码",
                )
        for r in roles:
            if r not in ROLES:
                raise fail(
                    f"用户 {uid}：未知的角色 {printable(r)}",
                    _line(text, r, at or 0),
                    hint=f"可用的角色：{'、'.join(ROLES)}",
                )
        active = item.get("active", True)
        if not isinstance(active, bool):
            raise fail(f"用户 {uid}：active 须为 true 或 false", at)
        users[uid] = DirectoryUser(
            uid, name.strip(), tuple(dict.fromkeys(depts)), tuple(dict.fromkeys(roles)), active
        )
        where_user[uid] = at

    raw_sup = data.get("supervision", {})
    if not isinstance(raw_sup, dict):
        raise fail("supervision 须为 [supervision] 表", _line(text, "supervision"))
    supervision: dict[str, int | bool] = dict(SUPERVISION_DEFAULTS)
    for key, value in raw_sup.items():
        if key not in SUPERVISION_DEFAULTS:
            raise fail(
                f"supervision：未知的键 {printable(key)}（可用的键：{'、'.join(SUPERVISION_DEFAULTS)}）",
                _line(text, key, _line(text, "[supervision]") or 0),
            )
        default = SUPERVISION_DEFAULTS[key]
        ok = (
            isinstance(value, bool)
            if isinstance(default, bool)
            else isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1000
        )
        if not ok:
            kind = "true 或 false" if isinstance(default, bool) else "1 至 1000 之间的工作日整数"
            raise fail(f"supervision：{key} 须为 {kind}", _line(text, key, _line(text, "[supervision]") or 0))
        supervision[key] = value
    return Directory(version, departments, users, supervision)
