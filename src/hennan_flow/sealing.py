"""Personal data sealed at rest: AES-256-GCM per stored value, with the id of the key that sealed it.

What is sealed, when a key is configured: the applicant JSON of a case (`hf_case.applicant`: names,
公民身份号码 / 统一社会信用代码, phones, addresses), the case's workflow state (`hf_case.wf_state` and
its task fragments `hf_case_task.doc`: every form's data, the fields marked `"x-hf-sensitive": true`
among them), review texts, the notes staff write (card transitions, commitment checks, credit
repairs, rectification phases, extension reasons) and the e-licence numbers providers return. Each
value is sealed on its own, bound to its column (the associated data), as
``hfenc:1:<key id>:<base64 nonce ‖ ciphertext ‖ tag>``; reads open it again, so the API returns the
values as they were given. Instants, states, ids and the audit log's event details (ids, never
personal data: DESIGN §10) stay plain, so queues, deadlines and reports need no key.

Keys: ``HENNAN_FLOW_KEY`` (base64 of 32 random bytes, e.g. ``openssl rand -base64 32``) or
``HENNAN_FLOW_KEY_FILE`` (a file of such keys, one a line, ``#`` comments). Several keys may be
given (comma-separated in the variable): the first seals, every one opens. The key id is derived
from the key (a SHA-256 prefix), so nothing but the keys themselves needs keeping. Rotation: put the
new key first and keep the old one behind it, run ``hennan-flow keys rotate`` (re-seals every value
not sealed with the first key, plaintext ones included, a batch per transaction; run it again after
an interruption), then drop the old key.

Why AES-GCM and not SM4 (GB/T 32907): `cryptography`'s AESGCM is an AEAD in every wheel and runs on
the processor's AES instructions (a step seals its state in microseconds); SM4 in `cryptography` is
a block cipher whose availability depends on the OpenSSL build (FIPS builds drop it) and has no
AEAD class. A county that must use SM4 can swap `_Cipher` for an SM4-GCM one: the stored format
keeps the key id, so old and new values can live side by side during a rotation.

Key material and plaintext never appear in an error message or a log line: errors name the key id,
the column and the variable.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from .errors import ConfigError
from .inputs import os_reason

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "PREFIX",
    "Keyring",
    "SealedText",
    "active",
    "is_sealed",
    "key_id_of",
    "open_value",
    "seal",
    "using",
]

KEY_ENV: Final = "HENNAN_FLOW_KEY"
KEY_FILE_ENV: Final = "HENNAN_FLOW_KEY_FILE"
PREFIX: Final = "hfenc:1:"
_NONCE: Final = 12
_KEY_BYTES: Final = 32
_MAX_KEY_FILE: Final = 64 * 1024


def key_id_of(key: bytes) -> str:
    """The key's id stored with every value it seals (not reversible to the key)."""
    return hashlib.sha256(b"hennan-flow key id\x00" + key).hexdigest()[:16]


class Keyring:
    """The keys of one engine: the first seals, every one opens (by the key id stored with a value)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigError("密钥环至少需要一个密钥")
        self._ciphers: dict[str, AESGCM] = {}
        for number, key in enumerate(keys, start=1):
            if len(key) != _KEY_BYTES:
                raise ConfigError(
                    f"第 {number} 个密钥有 {len(key)} 字节，应为 {_KEY_BYTES} 字节",
                    hint="生成密钥：openssl rand -base64 32",
                )
            self._ciphers.setdefault(key_id_of(key), AESGCM(key))
        self.current: str = key_id_of(keys[0])
        self._seal = self._ciphers[self.current]
        self._mark = f"{PREFIX}{self.current}:"

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id this keyring opens, the sealing one first."""
        return tuple(self._ciphers)

    @classmethod
    def from_text(cls, text: str, *, source: str) -> Keyring:
        """Keys in base64, separated by commas, whitespace or lines (`#` starts a comment)."""
        entries: list[str] = []
        for line in text.splitlines():
            line = line.split("#", 1)[0]
            entries += [e for e in line.replace(",", " ").split() if e]
        if not entries:
            raise ConfigError(f"{source} 中没有密钥", hint="生成密钥：openssl rand -base64 32")
        keys: list[bytes] = []
        for number, entry in enumerate(entries, start=1):
            try:
                keys.append(base64.b64decode(entry, validate=True))
            except (binascii.Error, ValueError):
                raise ConfigError(
                    f"{source}：第 {number} 个密钥不是 base64 文本", hint="生成密钥：openssl rand -base64 32"
                ) from None
        try:
            return cls(keys)
        except ConfigError as exc:
            raise ConfigError(f"{source}：{exc.message}", hint=exc.hint) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Keyring | None:
        """The keyring of HENNAN_FLOW_KEY or HENNAN_FLOW_KEY_FILE, or None when neither is set."""
        env = os.environ if environ is None else environ
        text, path = env.get(KEY_ENV, "").strip(), env.get(KEY_FILE_ENV, "").strip()
        if text and path:
            raise ConfigError(f"{KEY_ENV} 和 {KEY_FILE_ENV} 都设置了", hint="只设置其中一个")
        if text:
            return cls.from_text(text, source=KEY_ENV)
        if not path:
            return None
        file = Path(path)
        try:
            if not file.is_file():
                raise ConfigError(f"{KEY_FILE_ENV} 指向的不是普通文件", hint="让它指向密钥文件")
            with file.open("rb") as handle:
                raw = handle.read(_MAX_KEY_FILE + 1)
        except OSError as exc:
            raise ConfigError(
                f"无法读取 {KEY_FILE_ENV} 的密钥文件（{os_reason(exc)}）", hint="检查文件的权限"
            ) from None
        if len(raw) > _MAX_KEY_FILE:
            raise ConfigError(f"{KEY_FILE_ENV} 的密钥文件超过 64 KiB")
        try:
            content = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ConfigError(f"{KEY_FILE_ENV} 的密钥文件不是 base64 文本") from None
        return cls.from_text(content, source=KEY_FILE_ENV)

    def is_current(self, stored: str) -> bool:
        """Whether `stored` is sealed with the sealing key (nothing for `keys rotate` to do)."""
        return stored.startswith(self._mark)

    def seal(self, text: str, label: str) -> str:
        """`text` sealed with the first key, bound to `label` (the column)."""
        nonce = os.urandom(_NONCE)
        body = self._seal.encrypt(nonce, text.encode("utf-8"), label.encode("ascii"))
        return self._mark + base64.b64encode(nonce + body).decode("ascii")

    def open(self, stored: str, label: str) -> str:
        """The text of a sealed value (a plain one as it is)."""
        if not stored.startswith(PREFIX):
            return stored
        kid, _, body = stored[len(PREFIX) :].partition(":")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise ConfigError(
                f"{label} 中的值由密钥 {kid} 加密，而该密钥没有配置",
                hint=f"把该密钥加入 {KEY_ENV} 或 {KEY_FILE_ENV}（放在加密用的密钥之后）",
            )
        try:
            blob = base64.b64decode(body, validate=True)
            text = cipher.decrypt(blob[:_NONCE], blob[_NONCE:], label.encode("ascii"))
        except (binascii.Error, ValueError, InvalidTag):
            raise ConfigError(
                f"{label} 中由密钥 {kid} 加密的值无法解密（已被改动或移动）",
                hint="从备份恢复该行",
            ) from None
        return text.decode("utf-8")


_ACTIVE: contextvars.ContextVar[Keyring | None] = contextvars.ContextVar("hennan_flow_keyring", default=None)


def active() -> Keyring | None:
    """The keyring of the engine whose transaction runs in this context, if it has one."""
    return _ACTIVE.get()


@contextmanager
def using(keyring: Keyring | None) -> Iterator[None]:
    """Seal and open with `keyring` inside the block (each engine transaction runs in one)."""
    token = _ACTIVE.set(keyring)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def is_sealed(stored: str | None) -> bool:
    return stored is not None and stored.startswith(PREFIX)


def seal(text: str, label: str) -> str:
    """`text` sealed with the active keyring; as it is when the engine has no key (plaintext allowed)."""
    keyring = _ACTIVE.get()
    return text if keyring is None else keyring.seal(text, label)


def open_value(stored: str, label: str) -> str:
    """A stored value opened with the active keyring (a plain value as it is)."""
    if not stored.startswith(PREFIX):
        return stored
    keyring = _ACTIVE.get()
    if keyring is None:
        kid = stored[len(PREFIX) :].partition(":")[0]
        raise ConfigError(
            f"{label} 中的值由密钥 {kid} 加密，但没有配置任何密钥",
            hint=f"设置 {KEY_ENV} 或 {KEY_FILE_ENV}",
        )
    return keyring.open(stored, label)


class SealedText(TypeDecorator[str]):
    """A TEXT column whose values are sealed with the active keyring (ORM and Core statements)."""

    impl = Text
    cache_ok = True

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else seal(value, self.label)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else open_value(str(value), self.label)
