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

__all__ = ["ReadRefused", "read_input", "write_output"]

_CHUNK = 1 << 16


class ReadRefused(Exception):
    """The file cannot be used; `kind` says why (missing, not_regular, too_big, unreadable)."""

    def __init__(self, kind: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint


def _kind_name(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_input(path: str | os.PathLike[str], *, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; anything else raises `ReadRefused`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError as exc:
        raise ReadRefused("missing", "no such file", "check the path") from exc
    except IsADirectoryError as exc:
        raise ReadRefused("not_regular", "is a directory, not a file", "name a file") from exc
    except PermissionError as exc:
        raise ReadRefused("unreadable", "permission denied", "check the file's permissions") from exc
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO with no writer, or a socket
            raise ReadRefused("not_regular", "is not a regular file", "name a regular file") from exc
        raise ReadRefused("unreadable", f"cannot read: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if not stat.S_ISREG(mode):
            raise ReadRefused(
                "not_regular",
                f"is {_kind_name(mode)}, not a regular file",
                "name a regular file (pipes, devices and sockets are not read)",
            )
        size = info.st_size
        if size > max_bytes:  # a regular file says its size: refuse without reading it
            raise ReadRefused(
                "too_big",
                f"file is {size:,} bytes, over the {max_bytes:,}-byte limit",
                "split the file, or check that it is the file you meant",
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
                    f"file is over the {max_bytes:,}-byte limit (it grew while being read)",
                    "split the file, or check that it is the file you meant",
                )
        return b"".join(chunks)
    except OSError as exc:
        raise ReadRefused("unreadable", f"cannot read: {exc.strerror or exc}") from exc
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
        raise ReadRefused("unwritable", f"cannot write: {exc.strerror or exc}") from exc
    if mode is not None and not stat.S_ISREG(mode):
        raise ReadRefused(
            "not_regular", f"is {_kind_name(mode)}, not a regular file", "name a regular file to write"
        )
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise ReadRefused("unwritable", f"cannot write: {exc.strerror or exc}") from exc
