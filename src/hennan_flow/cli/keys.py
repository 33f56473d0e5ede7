"""`hennan-flow keys`: the keys personal data is sealed with at rest (sealing.py).

`status` counts, per sealed column, the plain values and the values each key id sealed; `rotate`
re-seals every value not sealed with the first key of HENNAN_FLOW_KEY / HENNAN_FLOW_KEY_FILE (one
transaction per batch; run it again after an interruption). Key material is never printed.
"""

from __future__ import annotations

import click

from ..engine.keys import DEFAULT_BATCH
from ._context import CliContext, format_option, pass_cli

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """Keys of the personal data sealed at rest (env HENNAN_FLOW_KEY or HENNAN_FLOW_KEY_FILE)."""


@keys.command("status")
@format_option()
@pass_cli
def keys_status(obj: CliContext) -> None:
    """Per sealed column: plain values and values sealed by each key id."""
    found = obj.engine().key_status()

    def text() -> str:
        lines = [
            f"sealing key: {found['sealing_key'] or '（未配置 none configured）'}",
            f"values to rotate: {found['to_rotate']}; plain values: {found['plaintext']}",
        ]
        for name, counts in found["columns"].items():
            shown = ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "empty"
            lines.append(f"  {name:<34} {shown}")
        return "\n".join(lines)

    obj.emit(found, text)


@keys.command("rotate")
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Rows re-sealed per transaction.",
)
@format_option()
@pass_cli
def keys_rotate(obj: CliContext, batch: int) -> None:
    """Re-seal every value with the first configured key; keep the old keys behind it until done."""
    done = obj.engine().rotate_keys(batch=batch)
    obj.emit(
        done,
        f"re-sealed {done['total']} value(s) with key {done['sealing_key']} in {done['batches']} batch(es)"
        + (f"; {done['skipped']} changed meanwhile (sealed anew by their writer)" if done["skipped"] else "")
        + (
            "; the old keys may now be removed"
            if done["log_cleared"]
            else "; the SQLite log could not be truncated (other connections kept it busy):"
            " run `keys rotate` again when the engines are idle, then remove the old keys"
        ),
    )
