"""What several test files share: Shanghai instants, an engine deployed on a simulated clock, the
enterprise_opening bundle and its walk data, the in-process CLI, the escape payloads of
`fixtures/safety`, the string walk of the no-personal-data-in-the-logs checks, and the seam through
which tests look at an engine's database (`database`, `read`, `rows`, `write`, `sweeper`): the one
place that knows the engine's internal wiring (`Engine.context`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache, partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine as Database
from sqlalchemy.orm import Session

from hennan_flow.cli import main
from hennan_flow.clock.instants import SHANGHAI
from hennan_flow.db.raw import Raw
from hennan_flow.db.transaction import Tx
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine.supervision import SweepPort
from hennan_flow.supervision.sweeper import Sweeper

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
# the foreign BPMN corpora beside the repository (or env HENNAN_FLOW_CORPORA); tests skip without them
CORPORA = Path(os.environ.get("HENNAN_FLOW_CORPORA") or REPO.parent / "shared" / "corpora")
PROCESSES = REPO / "processes"
FORMS = REPO / "forms"
FIXTURES = TESTS / "fixtures"
SAFETY = FIXTURES / "safety"

# the county's enterprise_opening bundle, and the data that completes each of its steps
OPENING = PROCESSES / "enterprise_opening.bpmn"
WALKS: dict[str, Any] = json.loads((FIXTURES / "bundles" / "walks.json").read_text(encoding="utf-8"))
OPENING_WALK: dict[str, dict[str, Any]] = WALKS["enterprise_opening"]["step_data"]
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai, inside the calendar data

# the clock fixture bundle (tests/fixtures/clock): `review_clock`, accepted Mon 2025-09-29 10:00 Shanghai
CLOCK_BUNDLE = FIXTURES / "clock" / "processes"

# the engine fixture bundle `review` (processes/ + forms/): accept, tax and seal in parallel, decide,
# and a supplement loop back to decide; ACCEPT completes its accept step
REVIEW_LIB = FIXTURES / "engine"
ACCEPT = {"enterprise_name": "衡南县测试有限公司", "capital": 100}


def at(text: str) -> datetime:
    """A Shanghai wall-clock instant, e.g. at("2025-09-29T10:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def iso(text: str) -> str:
    """The local ISO text the engine prints for a Shanghai wall-clock instant."""
    return at(text).isoformat()


CLOCK_START = at("2025-09-29T10:00")


# -- migrated databases -------------------------------------------------------------------------------

# one database per kind, migrated once per test process (`template`); each test gets a copy
_TEMPLATES: dict[bool, Path] = {}


def template(*, simulation: bool) -> Path:
    """A SQLite file migrated to the newest revision (marked a simulation database or not), made
    once per test process by the real migrations, checkpointed so the file alone is the database."""
    if simulation not in _TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix="hf-template-"))
        path = folder / ("simulation.db" if simulation else "real.db")
        with Engine(f"sqlite:///{path}") as engine:
            engine.upgrade(simulation=simulation)
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _TEMPLATES[simulation] = path
    return _TEMPLATES[simulation]


def migrated(url: str, *, simulation: bool = False) -> str:
    """`url` holding the newest schema, as `Engine(url).upgrade(simulation=…)` leaves it; returns `url`.

    A SQLite file that does not exist yet becomes a copy of the `template`, with its own applicant
    salt (what migration 0004 makes per database), which is much cheaper than running the seven
    migrations for every test; any other database is migrated.
    """
    path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if path is None or path.exists():
        with Engine(url) as engine:
            engine.upgrade(simulation=simulation)
        return url
    shutil.copyfile(template(simulation=simulation), path)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE hf_meta SET value = ? WHERE key = 'applicant_salt'", (secrets.token_hex(32),))
    return url


@contextmanager
def simulation(
    url: str, bundle: Path, start: datetime, *, forms: Path | None = None
) -> Iterator[tuple[Engine, SimulatedClock]]:
    """A new simulation database at `url` with `bundle` deployed, its clock at `start`; closed after."""
    migrated(url, simulation=True)
    clock = SimulatedClock(start)
    engine = Engine(url, clock=clock)
    if forms is None:
        engine.deploy(str(bundle))
    else:
        engine.deploy(str(bundle), forms=str(forms))
    try:
        yield engine, clock
    finally:
        engine.close()


# -- looking at an engine's database ----------------------------------------------------------------


def card_events(engine: Engine, *, after: int = 0, limit: int = 100) -> list[Any]:
    """The outbox's signal and card events (the cases' and steps' own events, DESIGN §10, left out)."""
    return [e for e in engine.events(after=after, limit=limit) if not e.type.startswith(("case.", "task."))]


def database(engine: Engine) -> Database:
    """The engine's SQLAlchemy engine (migrations, plans, direct SQL in a test)."""
    return engine.context.db


@contextmanager
def read(engine: Engine) -> Iterator[Session]:
    """A read session on the engine's database."""
    with engine.context.read() as session:
        yield session


def rows(engine: Engine, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a driver-level query (`?` placeholders) on the engine's database."""
    with engine.context.reading() as raw:
        return raw.rows(sql, params)


def raw(session: Session) -> Raw:
    """The driver cursor of a read session."""
    return Raw(session.connection())


@contextmanager
def write(engine: Engine) -> Iterator[Tx]:
    """A write transaction of the engine's, as its own operations run in."""
    with engine.context.write() as tx:
        yield tx


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """The ORM session of a write transaction of the engine's (committed at the end)."""
    with write(engine) as tx:
        yield tx.session


def port(engine: Engine, kind: type[SweepPort] = SweepPort) -> SweepPort:
    """The engine as the sweeper sees it (`kind`: a test's own port over the same engine)."""
    return kind(engine.context)


def sweeper(engine: Engine, **options: Any) -> Sweeper:
    """A Sweeper over the engine (what `Engine.sweep` runs), for tests that hold it between phases."""
    return Sweeper(port(engine), **options)


def run_to_end(engine: Engine, case_id: str, *, supplement_rounds: int = 0, actor: str = "clerk") -> int:
    """Complete every ready step of a `review` case until it ends; returns the number of completions."""
    done = 0
    rounds = 0
    while True:
        ready = engine.tasks(case=case_id)
        if not ready:
            return done
        for t in ready:
            data: dict[str, object] = {}
            if t.step == "accept":
                data = dict(ACCEPT)
            if t.step == "decide":
                data = {"needs_supplement": rounds < supplement_rounds}
                rounds += 1
            engine.complete_task(t.id, data=data, actor=actor)
            done += 1


@contextmanager
def held_write_lock(path: Path) -> Iterator[None]:
    """Another connection holds the SQLite file's write lock (BEGIN IMMEDIATE) for the block."""
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def run_cli(url: str, capsys: pytest.CaptureFixture[str], *args: str, now: str) -> tuple[int, str, str]:
    """`hennan-flow --db URL --now NOW ARGS` in-process: (exit code, stdout, stderr) of that run alone."""
    return cli(capsys, "--db", url, "--now", now, *args)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`hennan-flow ARGV` in-process: (exit code, stdout, stderr) of that run alone."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


# -- a real HTTP server on 127.0.0.1 ------------------------------------------------------------------


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler], *, on_stop: Any = None) -> Iterator[str]:
    """`handler` served on 127.0.0.1 (a free port) in a thread while the block runs: its base URL.

    At the end `on_stop` (if given) runs first (to release handlers that stall on purpose), then the
    server stops: its loop polls every 20 ms (the default half second made every test that used a
    server wait that long at teardown), handler threads are daemons, the socket is closed.
    """
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=partial(httpd.serve_forever, poll_interval=0.02), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        if on_stop is not None:
            on_stop()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


# -- the escape payloads ------------------------------------------------------------------------------


def _load_safety(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"safety_{name}", SAFETY / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@cache
def safety_payloads() -> ModuleType:
    """`fixtures/safety/payloads.py` (PAYLOADS, BY_ID), loaded once per test run."""
    return _load_safety("payloads")


def shown(text: str) -> str:
    """How an error message quotes an expression: its repr, cut at 120 characters."""
    return repr(text if len(text) <= 120 else text[:117] + "...")


# -- personal data in log records ---------------------------------------------------------------------


class EveryRecord(logging.Handler):
    """A root handler at level 1 that keeps every record and its formatted text."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@contextmanager
def every_record() -> Iterator[EveryRecord]:
    """An EveryRecord on the root logger (and logging enabled) while the block runs."""
    handler = EveryRecord()
    root = logging.getLogger()
    root.addHandler(handler)
    logging.disable(logging.NOTSET)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def strings_in(value: Any, seen: set[int] | None = None, depth: int = 0) -> Iterator[str]:
    """Every string reachable from a record attribute: containers, objects' attributes, reprs."""
    seen = set() if seen is None else seen
    if id(value) in seen or depth > 12:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings_in(k, seen, depth + 1)
            yield from strings_in(v, seen, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from strings_in(item, seen, depth + 1)
    elif value is not None and not isinstance(value, (int, float, bool)):
        yield repr(value)
        attrs = getattr(value, "__dict__", None)
        if isinstance(attrs, dict):
            yield from strings_in(attrs, seen, depth + 1)


def everything_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """The root logger and every logger that exists now at DEBUG (caplog restores them afterwards)."""
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)


def year_file(year: int, version: str, rest: tuple[str, ...] = (), work: tuple[str, ...] = ()) -> str:
    """A calendar file covering `year`: its statutory holidays on weekdays off (as a covering file must
    have them), plus `rest` and `work`."""
    from hennan_flow.clock.statutory import weekday_holidays

    days = sorted({*(d.isoformat() for d in weekday_holidays(year)), *rest})
    return f'version = "{version}"\nyears = [{year}]\nrest = {json.dumps(days)}\nwork = {json.dumps(list(work))}\n'
