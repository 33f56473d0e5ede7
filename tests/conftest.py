"""Shared fixtures: databases (SQLite files and a private PostgreSQL the test run starts), paths.

PostgreSQL: the run starts its own cluster in a temp dir (initdb/pg_ctl, as the `postgres` user
when the tests run as root, since initdb refuses root), listening only on a Unix socket, and stops
it at the end. Where PostgreSQL is not installed, the tests that need it skip with the reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import migrated

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HENNAN_FLOW_SHARED", REPO.parent / "shared"))
# the suite's production databases hold test persons, not people: cases start without a key unless a
# test configures one (test_sealing.py checks the refusal with this unset); a run with
# HENNAN_FLOW_KEY set seals everything instead
os.environ.setdefault("HENNAN_FLOW_ALLOW_PLAINTEXT", "1")
# built calendars are cached per stored version (clock/calendar_cache.py): in a folder of this run's
os.environ.setdefault("HENNAN_FLOW_CACHE_DIR", tempfile.mkdtemp(prefix="hennan-flow-cache-"))


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        try:
            out = subprocess.run(
                [found, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            if (Path(out) / "initdb").exists():
                return Path(out)
        except (OSError, subprocess.CalledProcessError):
            pass
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


class PostgresCluster:
    """A throw-away PostgreSQL cluster on a Unix socket in a temp dir."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="hfpg"))
        self.data = self.root / "data"
        self.port = 54329
        self._template: str | None = None
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            os.chmod(self.root, 0o777)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)

    def start(self) -> None:
        self._run(
            self.bindir / "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        opts = (
            f"-k {self.root} -c listen_addresses='' -p {self.port} -c fsync=off -c max_connections=200 "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            self.bindir / "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run(self.bindir / "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}&port={self.port}"

    def create_database(self, *, migrated: bool = False) -> str:
        """A new database: empty, or (`migrated`) a copy of the cluster's migrated template database
        with its own applicant salt (as migration 0004 makes one per database)."""
        name = "hf_" + uuid.uuid4().hex[:12]
        template = f' TEMPLATE "{self.template()}"' if migrated else ""
        with self.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}"{template}')
        if migrated:
            with self.connect(name) as conn:
                conn.execute(
                    "UPDATE hf_meta SET value = %s WHERE key = 'applicant_salt'", (secrets.token_hex(32),)
                )
        return self.url(name)

    def connect(self, database: str) -> Any:
        import psycopg

        return psycopg.connect(
            host=str(self.root), port=self.port, user="postgres", dbname=database, autocommit=True
        )

    def template(self) -> str:
        """The database the real migrations ran on once (a real-time database), made on first use."""
        if self._template is None:
            from hennan_flow.engine import Engine

            name = "hf_template"
            with self.connect("postgres") as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            with Engine(self.url(name)) as engine:  # closing it leaves no connection to copy from
                engine.upgrade()
            self._template = name
        return self._template


@pytest.fixture(autouse=True)
def _production_without_directory_runs_open(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests written before DESIGN §8 run a production database that has no directory stored as
    open, like a simulation database; a test marked `enforce` (tests/test_permissions.py,
    tests/test_directory.py) sees the real rule. A stored directory is always enforced."""
    if request.node.get_closest_marker("enforce") is None:
        from hennan_flow.engine.authority import Authority

        monkeypatch.setattr(Authority, "simulation", lambda self: True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed here (no initdb); CI installs it")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install hennan-flow[postgres])")
    cluster = PostgresCluster(bindir)
    try:
        cluster.start()
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        cluster.stop()
        pytest.skip(f"could not start a private PostgreSQL: {detail.strip()[:300]}")
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hf.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of each kind at the newest schema (real time), copied from a migrated template."""
    if request.param == "sqlite":
        return migrated(f"sqlite:///{tmp_path / 'hf.db'}")
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database(migrated=True)


@pytest.fixture
def pg_sim(postgres: PostgresCluster) -> Iterator[tuple[Any, Any]]:
    """An engine on a fresh PostgreSQL simulation database of the review-clock bundle, and its clock."""
    from helpers import CLOCK_BUNDLE, CLOCK_START, simulation

    with simulation(postgres.create_database(), CLOCK_BUNDLE, CLOCK_START) as sim:
        yield sim


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hf.db'}"


@pytest.fixture
def shared_dir() -> Path:
    return SHARED
