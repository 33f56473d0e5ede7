"""Migrations are safe to run (issue 28 item 7): shipped revisions never change, a downgrade never
deletes records silently, and the drift an edited 0005 left behind is repaired by a new revision."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from helpers import ACCEPT, REVIEW_LIB
from hennan_flow.cli import main
from hennan_flow.db import migrate
from hennan_flow.db.session import make_engine
from hennan_flow.engine import Engine
from hennan_flow.errors import StateError

VERSIONS = Path(__file__).resolve().parents[1] / "migrations" / "versions"
SHIPPED = VERSIONS.parent / "shipped.sha256"


def test_shipped_revisions_are_never_edited() -> None:
    """Each migration file's SHA-256 is in migrations/shipped.sha256; a changed one fails here.

    A new revision is added to the list in the commit that creates it; a fix to a shipped one is a
    new revision (as 0008 is for 0005)."""
    listed = dict(
        reversed(line.split()) for line in SHIPPED.read_text(encoding="utf-8").splitlines() if line.strip()
    )
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in VERSIONS.glob("[0-9]*.py")}
    assert sorted(files) == sorted(listed), "every migration file is listed in shipped.sha256, and only those"
    changed = [name for name, digest in files.items() if listed[name] != digest]
    assert changed == [], f"shipped revisions edited: {changed}; write a new revision instead"


def test_the_quick_schema_check_reads_what_alembic_reads(db_url: str) -> None:
    """Engines check the schema without Alembic: the highest-numbered file is Alembic's one head, each
    file's revision id is its number, and the stored revision is read as Alembic reads it."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == [migrate.head_revision()]
    for revision in script.walk_revisions():
        assert Path(revision.path).name.startswith(revision.revision + "_"), revision.path
    engine = make_engine(db_url)
    assert migrate.current_revision(engine) is None  # an empty database: no hennan_flow schema
    migrate.upgrade(engine, "0012")
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == "0012"
    assert migrate.current_revision(engine) == "0012"
    engine.dispose()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture
def with_records(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A database holding cases with deadlines, signals, a pause and outbox rows."""
    shutil.copytree(REVIEW_LIB, tmp_path / "lib")
    Engine(db_url).upgrade(simulation=True)
    with Engine(db_url) as engine:
        engine.deploy(str(tmp_path / "lib" / "processes"), forms=str(tmp_path / "lib" / "forms"))
        case = engine.start_case("review", applicant={"name": "王五"})
        done = engine.complete_task(case.ready[0].id, data=ACCEPT)
        engine.pause(done.ready[0].id, reason="supplement")
    yield db_url


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = [t for t in inspect(conn).get_table_names() if t.startswith("hf_")]
            return {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in tables}
    finally:
        engine.dispose()


def test_a_downgrade_that_would_delete_records_is_refused(
    with_records: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = with_records
    before = _counts(url)
    assert before["hf_deadline"] and before["hf_signal"] + before["hf_deadline"] and before["hf_pause"]
    for target in ("0001", "base", "-16"):  # (-16: from head 0017 to 0001)
        rc, out, err = run(capsys, "--db", url, "db", "downgrade", target)
        assert (rc, out) == (2, "")
        assert err.startswith(f"错误：downgrading to {target} would delete ") and err.count("\n") == 1
        assert "row(s) of hf_deadline (revision 0002)" in err and "row(s) of hf_pause (revision 0002)" in err
        assert "--force" in err
    assert _counts(url) == before  # nothing changed, not even the revision
    assert migrate.current_revision(make_engine(url)) == migrate.head_revision()
    with pytest.raises(StateError):
        migrate.downgrade(make_engine(url), "0001")


def test_a_downgrade_that_keeps_every_record_runs_and_force_documents_the_loss(
    with_records: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = with_records
    rc, out, _ = run(capsys, "--db", url, "--format", "json", "db", "downgrade", "0004")
    assert rc == 0 and json.loads(out) == {"revision": "0004", "deleted": []}
    assert run(capsys, "--db", url, "db", "upgrade")[0] == 0
    before = _counts(url)
    rc, out, err = run(capsys, "--db", url, "db", "downgrade", "0001", "--force")
    assert rc == 0 and out == "schema at revision 0001\n"
    deleted = [line for line in err.splitlines() if line.startswith("deleted: ")]
    assert f"deleted: {before['hf_deadline']} row(s) of hf_deadline (revision 0002)" in deleted
    assert f"deleted: {before['hf_pause']} row(s) of hf_pause (revision 0002)" in deleted


@pytest.mark.parametrize("target", ["0042", "head", "+1", "-99"])
def test_an_unknown_target_is_an_input_error(
    with_records: str, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    rc, _, err = run(capsys, "--db", with_records, "db", "downgrade", target)
    assert rc == 2 and err.startswith("错误：") and err.count("\n") == 1


def test_the_0005_drift_is_repaired_by_a_new_revision(with_records: str) -> None:
    """A database upgraded with 0005 as it first shipped kept ix_hf_deadline_open: `alembic check`
    wanted to drop it and `downgrade 0004` failed. 0008 drops it; 0005 stays as it is."""
    url = with_records
    engine = make_engine(url)
    try:
        migrate.downgrade(engine, "0004")
        migrate.upgrade(engine, "0005")
        with engine.begin() as conn:  # what the shipped 0005 left: the open-deadline index
            conn.execute(text("CREATE INDEX ix_hf_deadline_open ON hf_deadline (closed_at, pending)"))
        migrate.upgrade(engine)
        migrate.check(engine)  # no drift between the models and the schema
        with engine.connect() as conn:
            assert "ix_hf_deadline_open" not in {i["name"] for i in inspect(conn).get_indexes("hf_deadline")}
        migrate.downgrade(engine, "0004")  # 0005's downgrade creates the index: it must not exist yet
        migrate.upgrade(engine)
        migrate.check(engine)
    finally:
        engine.dispose()
