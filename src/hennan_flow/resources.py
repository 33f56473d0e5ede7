"""Paths of the data shipped in the wheel (bundles, forms, migrations, schemas, templates)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["packaged_forms", "packaged_migrations", "packaged_processes", "schema_path"]


def _dir(package: str) -> Path:
    return Path(str(resources.files(package)))


def packaged_processes() -> Path:
    """The county's bundle library as installed (top-level processes/ in the repo)."""
    return _dir("hennan_flow.processes")


def packaged_forms() -> Path:
    """The form schemas as installed (top-level forms/ in the repo)."""
    return _dir("hennan_flow.forms")


def packaged_migrations() -> Path:
    """The Alembic migrations as installed (top-level migrations/ in the repo)."""
    return _dir("hennan_flow.migrations")


def schema_path(name: str) -> Path:
    """A file of src/hennan_flow/schemas (hf.xsd, hf.json, …)."""
    return _dir("hennan_flow") / "schemas" / name
