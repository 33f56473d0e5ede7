"""The Jinja2 environment over the packaged templates (`hennan_flow/templates`), for every HTML renderer."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = ["environment"]


def environment(*, keep_trailing_newline: bool = False) -> Environment:
    """A new environment: autoescaped, strict about undefined names, blocks trimmed.

    Callers build theirs once (they may add filters) and keep it: building one per render would parse
    the templates again every time.
    """
    return Environment(
        loader=PackageLoader("hennan_flow", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
    )
