"""The permission table of DESIGN §8 as data, and the one check the engine makes against it.

Each operation names the roles that may do it and the scope a role holds it in:

- `any`: the role alone suffices (a supervisor, an admin, a clerk);
- `dept`: the role in the department the operation is about (a step's lane, a carded department);
- `superior`: the role in the superior of that department (上级复核 by the reviewer);

`not_own` marks operations a user of the department itself may never do (conclude, review or close
a red card of one's own department). `claimant` marks step operations a claimed step allows only its
claimant. The §9 reviewing/revisiting moves are rows of this table already, to be used by issue 23.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import PermissionDenied
from .directory import Directory, DirectoryUser

__all__ = ["OPERATIONS", "SYSTEM", "Grant", "Rule", "authorize", "may_read_all"]

SYSTEM = "system"
"""The actor of the sweeper, `db upgrade` and the demo's set-up."""


@dataclass(frozen=True)
class Rule:
    """Who may do one operation: (role, scope) pairs; scope is `any`, `dept` or `superior`."""

    name: str  # how a county user calls it, in messages
    grants: tuple[tuple[str, str], ...]
    not_own: bool = False
    claimant: bool = False


def _rule(name: str, *grants: str, not_own: bool = False, claimant: bool = False) -> Rule:
    pairs = tuple((g.split("@")[0], g.split("@")[1] if "@" in g else "any") for g in grants)
    return Rule(name, pairs, not_own=not_own, claimant=claimant)


_WINDOW = ("clerk", "portal")
OPERATIONS: Mapping[str, Rule] = {
    # cases and materials
    "case.start": _rule("受理案件", *_WINDOW),
    "case.withdraw": _rule("撤回申请", *_WINDOW),
    "material.supply": _rule("补交材料", *_WINDOW),
    "commitment.decline": _rule("放弃告知承诺", *_WINDOW),
    "review.add": _rule("登记好差评", *_WINDOW),
    # a message a waiting case receives (异地办理结果, 第三方意见): the online channel that brings it,
    # or a handler of the department whose lane the waiting element is in
    "message.deliver": _rule("接收消息", "portal", "handler@dept"),
    # steps: the handler of the step's department (a claimed step: its claimant)
    "task.claim": _rule("认领", "handler@dept"),
    "task.release": _rule("退回队列", "handler@dept", claimant=True),
    "task.complete": _rule("办理完成", "handler@dept", claimant=True),
    "task.pause.supplement": _rule("补正暂停计时", "handler@dept", claimant=True),
    "task.resume": _rule("恢复计时", "handler@dept", claimant=True),
    "task.return": _rule("退回", "handler@dept", claimant=True),
    "licence.verify": _rule("电子证照核验", "handler@dept"),
    "commitment.verify": _rule("告知承诺事后核查", "handler@dept"),
    # the head of the step's department
    "task.assign": _rule("指派", "head@dept"),
    "task.transfer": _rule("转办", "head@dept"),
    "task.extend": _rule("延长期限", "head@dept"),
    "task.pause.special_procedure": _rule("特别程序暂停计时", "head@dept"),
    "task.pause.suspended": _rule("挂起", "head@dept"),
    "material.extend": _rule("延长补正期限", "head@dept"),
    "case.refuse": _rule("不予受理/不予许可", "head@dept"),
    # supervision records
    "card.yellow.move": _rule("黄牌督办记录", "head@dept", "supervisor"),
    "card.red.verify": _rule("红牌核查", "supervisor", not_own=True),
    "card.red.close": _rule("红牌办结", "supervisor", not_own=True),
    "card.false_alarm": _rule("认定系统误报", "supervisor", not_own=True),
    "card.red.handover": _rule("红牌整改完成移交复核", "head@dept"),
    "card.red.review": _rule("红牌上级复核", "reviewer@superior", not_own=True),
    "card.account": _rule("问责登记", "supervisor"),
    "referral.outcome": _rule("移送结果登记", "supervisor", "discipline"),
    "referral.read": _rule("查阅移送纪检监察线索", "discipline"),
    "review.move": _rule("差评整改", "head@dept", "supervisor"),
    "credit.repair": _rule("信用修复", "supervisor"),
    # administration
    "deploy": _rule("部署流程", "admin"),
    "calendar.load": _rule("载入日历", "admin"),
    "calendar.provisional": _rule("暂定日历", "admin"),
    "directory.load": _rule("载入部门与人员目录", "admin"),
    "apikey": _rule("管理接口密钥", "admin"),
    "exchange": _rule("数据交换", "admin"),
}

_ROLE_WORDS = {
    "clerk": "综合窗口（clerk）",
    "handler": "承办（handler）",
    "head": "负责人（head）",
    "supervisor": "电子监察（supervisor）",
    "reviewer": "上级复核（reviewer）",
    "discipline": "纪检监察（discipline）",
    "admin": "管理员（admin）",
    "portal": "网上渠道（portal）",
}


@dataclass(frozen=True)
class Grant:
    """Who acts and in which role (recorded with each event)."""

    actor: str
    role: str


def _needed(rule: Rule, department: str | None, superior: str | None) -> str:
    parts = []
    for role, scope in rule.grants:
        word = _ROLE_WORDS.get(role, role)
        if scope == "dept":
            parts.append(f"{department or '该'} 部门的 {word} 角色")
        elif scope == "superior":
            parts.append(f"{superior or '上级'} 部门的 {word} 角色")
        else:
            parts.append(f"{word} 角色")
    return "需要" + " 或 ".join(parts)


def authorize(
    directory: Directory,
    actor: str | None,
    operation: str,
    *,
    department: str | None = None,
    claimed_by: str | None = None,
) -> Grant:
    """The grant `actor` holds for `operation` on `department`'s object; else `PermissionDenied`."""
    rule = OPERATIONS[operation]
    dept = directory.department(department) if department else None
    superior = dept.superior if dept is not None else None
    what = f"「{rule.name}」（{operation}）"
    if not actor:
        raise PermissionDenied(
            f"{what} 需要操作人", hint="加 --actor USER 或设置 HENNAN_FLOW_ACTOR（API：actor=）"
        )
    user = directory.user(actor)
    if user is None:
        raise PermissionDenied(
            f"{actor} 不是部门与人员目录 {directory.version} 中的用户，不能{what}",
            hint="用户名单见 hennan-flow directory show",
        )
    if not user.active:
        raise PermissionDenied(
            f"{actor}（{user.name}）已停用，不能{what}", hint="请管理员（admin）重新启用该用户"
        )
    if rule.not_own and department is not None and department in user.departments:
        raise PermissionDenied(
            f"{actor}（{user.name}）属于被亮牌部门 {department}，不能{what}本部门的红牌",
            hint="由其他部门的电子监察（supervisor）办理",
        )
    role = _granted(user, rule, department, superior)
    if role is None:
        raise PermissionDenied(f"{actor}（{user.name}）不能{what}：{_needed(rule, department, superior)}")
    if rule.claimant and claimed_by is not None and claimed_by != actor:
        raise PermissionDenied(
            f"{actor}（{user.name}）不能{what}：该步骤已由 {claimed_by} 认领，只有认领人可以办理",
            hint="由认领人释放（task release），或由负责人指派（task assign）",
        )
    return Grant(actor, role)


def _granted(user: DirectoryUser, rule: Rule, department: str | None, superior: str | None) -> str | None:
    for role, scope in rule.grants:
        if role not in user.roles:
            continue
        if scope == "any":
            return role
        if scope == "dept" and department is not None and department in user.departments:
            return role
        if scope == "superior" and superior is not None and superior in user.departments:
            return role
    return None


def may_read_all(user: DirectoryUser) -> bool:
    """Supervisor, auditor and admin read every queue and case; others their departments'."""
    return any(r in user.roles for r in ("supervisor", "auditor", "admin"))
