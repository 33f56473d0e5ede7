"""Reading files a user names (bundles, calendar files, catalogues, `@file` arguments), safely.

A path on the command line may name anything: a FIFO that never delivers a byte, `/dev/zero`, a
terminal, a directory, a file that grows while it is read. `read_input` opens only regular files
(a FIFO is opened without blocking, then refused), and bounds the read by the bytes actually read,
never by `st_size` (which a device or a growing file does not honour).
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["ReadRefused", "os_reason", "read_input", "write_output"]

_CHUNK = 1 << 16


class ReadRefused(Exception):
    """The file cannot be used; `kind` says why (missing, not_regular, too_big, unreadable)."""

    def __init__(self, kind: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint


# the system's reasons a county user meets, in Chinese; any other keeps the system's own words
_OS_REASONS = {
    errno.ENOENT: "文件或目录不存在",
    errno.EACCES: "没有权限",
    errno.EPERM: "操作不被允许",
    errno.EISDIR: "是目录",
    errno.ENOTDIR: "路径中有一段不是目录",
    errno.ENOSPC: "磁盘空间已满",
    errno.EROFS: "文件系统只读",
    errno.EIO: "输入输出错误",
    errno.ENAMETOOLONG: "文件名过长",
    errno.ELOOP: "符号链接层数过多",
    errno.EEXIST: "文件已存在",
    errno.EMFILE: "打开的文件过多",
    errno.EDQUOT: "超出磁盘配额",
}


def os_reason(exc: OSError) -> str:
    """Why the system refused, in Chinese for the usual reasons (else the system's own words)."""
    if exc.errno in _OS_REASONS:
        return _OS_REASONS[exc.errno]
    return exc.strerror or str(exc)


def _kind_name(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "目录"
    if stat.S_ISFIFO(mode):
        return "命名管道（FIFO）"
    if stat.S_ISCHR(mode):
        return "字符设备"
    if stat.S_ISBLK(mode):
        return "块设备"
    if stat.S_ISSOCK(mode):
        return "套接字"
    return "特殊文件"


def read_input(path: str | os.PathLike[str], *, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; anything else raises `ReadRefused`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError as exc:
        raise ReadRefused("missing", "文件不存在", "检查路径") from exc
    except IsADirectoryError as exc:
        raise ReadRefused("not_regular", "是目录，不是文件", "请指定一个文件") from exc
    except PermissionError as exc:
        raise ReadRefused("unreadable", "没有读取权限", "检查文件的权限") from exc
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO with no writer, or a socket
            raise ReadRefused("not_regular", "不是普通文件", "请指定一个普通文件") from exc
        raise ReadRefused("unreadable", f"无法读取：{os_reason(exc)}") from exc
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if not stat.S_ISREG(mode):
            raise ReadRefused(
                "not_regular",
                f"是{_kind_name(mode)}，不是普通文件",
                "请指定一个普通文件（不读取管道、设备和套接字）",
            )
        size = info.st_size
        if size > max_bytes:  # a regular file says its size: refuse without reading it
            raise ReadRefused(
                "too_big",
                f"文件有 {size:,} 字节，超过 {max_bytes:,} 字节的上限",
                "拆分文件，或确认是否选对了文件",
            )
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise ReadRefused(
                    "too_big",
                    f"文件超过 {max_bytes:,} 字节的上限（读取期间文件还在变大）",
                    "拆分文件，或确认是否选对了文件",
                )
        return b"".join(chunks)
    except OSError as exc:
        raise ReadRefused("unreadable", f"无法读取：{os_reason(exc)}") from exc
    finally:
        os.close(fd)


def write_output(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to a regular file, created or replaced; a FIFO or device is refused, not
    opened (opening a FIFO nobody reads blocks for ever)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ReadRefused("unwritable", f"无法写入：{os_reason(exc)}") from exc
    if mode is not None and not stat.S_ISREG(mode):
        raise ReadRefused("not_regular", f"是{_kind_name(mode)}，不是普通文件", "请指定一个可写入的普通文件")
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise ReadRefused("unwritable", f"无法写入：{os_reason(exc)}") from exc
