"""The wheel, installed into a fresh venv outside the repository, carries everything it needs.

Builds the wheel from a copy of the working tree (so the build leaves nothing in the repo), installs
it with its dependencies into a new venv under the pytest temp folder, and runs the installed
console script there on the packaged `processes/`. The module-scoped `fresh_venv` fixture yields the
venv's bin folder, so later steps (`hennan-flow db upgrade`, a whole case) can run in the same venv.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "validate"
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".*_cache",
    ".hypothesis",
    ".demo",
    "node_modules",
    "*.db",
)
_timings: dict[str, float] = {}


def _env() -> dict[str, str]:
    """The caller's environment without anything that could point Python back at the repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HENNAN_FLOW_"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(
    args: list[str | Path], *, cwd: Path, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command outside the repository (with `env` added); its output is kept for the assertion messages."""
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _must(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (
        f"{proc.args} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built with build isolation from a copy of the working tree."""
    started = time.monotonic()
    source = tmp_path_factory.mktemp("source") / "hennan_flow"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCE)
    dist = tmp_path_factory.mktemp("dist")
    if importlib.util.find_spec("build") is not None:  # the dev extra has it
        _must(run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, source], cwd=dist))
    else:
        _must(run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", dist, source], cwd=dist))
    [built] = dist.glob("hennan_flow-*.whl")
    _timings["build"] = time.monotonic() - started
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new venv outside the repo with the wheel (and its dependencies) installed: yields its bin/."""
    started = time.monotonic()
    venv = tmp_path_factory.mktemp("venv") / "venv"
    assert not venv.resolve().is_relative_to(REPO)
    _must(run([sys.executable, "-m", "venv", venv], cwd=venv.parent))
    bin_dir = venv / "bin"
    _must(run([bin_dir / "python", "-m", "pip", "install", "--quiet", wheel], cwd=venv.parent))
    _timings["install"] = time.monotonic() - started
    yield bin_dir


@pytest.fixture(scope="module")
def installed(fresh_venv: Path) -> dict[str, str]:
    """Where the installed package and its data live, as the installed package reports them."""
    probe = (
        "import json, hennan_flow\n"
        "from hennan_flow.resources import packaged_forms, packaged_migrations, packaged_processes, schema_path\n"
        "print(json.dumps({'package': hennan_flow.__file__, 'processes': str(packaged_processes()),\n"
        "    'forms': str(packaged_forms()), 'migrations': str(packaged_migrations()),\n"
        "    'hf.xsd': str(schema_path('hf.xsd')), 'hf.json': str(schema_path('hf.json')),\n"
        "    'events': str(schema_path('events')),\n"
        "    'web': str(__import__('hennan_flow.web', fromlist=['STATIC']).STATIC)}))\n"
    )
    proc = _must(run([fresh_venv / "python", "-c", probe], cwd=fresh_venv.parent.parent))
    return dict(json.loads(proc.stdout))


def _files(folder: Path, pattern: str) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.glob(pattern)
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    }


def test_installed_package_lives_in_the_venv(
    fresh_venv: Path, installed: dict[str, str], record_property: Callable[[str, object], None]
) -> None:
    venv = fresh_venv.parent.resolve()
    for what, where in installed.items():
        path = Path(where).resolve()
        assert path.exists(), f"{what}: {path} is missing"
        assert path.is_relative_to(venv), f"{what} points outside the venv: {path}"
        assert not path.is_relative_to(REPO), f"{what} points back into the repository: {path}"
    for step, seconds in _timings.items():
        record_property(f"wheel_{step}_seconds", round(seconds, 1))
    print(", ".join(f"{step} {seconds:.1f} s" for step, seconds in _timings.items()))


@pytest.mark.parametrize(
    ("what", "repo_folder", "patterns"),
    [
        ("processes", "processes", ("*.bpmn",)),
        ("forms", "forms", ("**/*.json",)),
        ("migrations", "migrations", ("*.py", "*.mako", "*.ini", "versions/*.py")),
        ("events", "src/hennan_flow/schemas/events", ("*.json",)),  # the outbox events' schemas
    ],
)
def test_packaged_folders_match_the_repository(
    installed: dict[str, str], what: str, repo_folder: str, patterns: tuple[str, ...]
) -> None:
    packaged, source = Path(installed[what]), REPO / repo_folder
    for pattern in patterns:
        assert _files(packaged, pattern) == _files(source, pattern), f"{what}/{pattern}"


def test_packaged_viewer_matches_the_repository(installed: dict[str, str]) -> None:
    """The bpmn-js viewer and the workbench's pages travel in the wheel (no CDN at run time)."""
    packaged, source = Path(installed["web"]), REPO / "src" / "hennan_flow" / "web" / "static"
    files = _files(source, "**/*")
    assert "bpmn-js/bpmn-viewer.production.min.js" in files and "bpmn-js/LICENSE" in files
    assert _files(packaged, "**/*") == files
    for name in files:
        assert (packaged / name).read_bytes() == (source / name).read_bytes(), name
    templates = _files(source.parent / "templates", "*.html")
    assert "case.html" in templates and _files(packaged.parent / "templates", "*.html") == templates


@pytest.mark.parametrize("schema", ["hf.xsd", "hf.json"])
def test_packaged_schemas_match_the_repository(installed: dict[str, str], schema: str) -> None:
    assert (
        Path(installed[schema]).read_bytes()
        == (REPO / "src" / "hennan_flow" / "schemas" / schema).read_bytes()
    )


def test_installed_cli_validates_the_packaged_processes(
    fresh_venv: Path, installed: dict[str, str], tmp_path: Path
) -> None:
    processes = Path(installed["processes"])
    proc = run([fresh_venv / "hennan-flow", "--format", "json", "validate", processes], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    assert sorted(Path(f["file"]).name for f in report["files"]) == sorted(_files(processes, "*.bpmn"))
    assert all(f["ok"] for f in report["files"])
    text = run([fresh_venv / "hennan-flow", "validate", processes], cwd=tmp_path)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "内部错误" not in text.stderr


def test_installed_cli_uses_its_packaged_schema(fresh_venv: Path, tmp_path: Path) -> None:
    """A clean fixture passes and an hf: enumeration error is caught: the packaged hf.xsd is in use."""
    shutil.copytree(FIXTURES / "bundles", tmp_path / "bundles")
    shutil.copytree(FIXTURES / "forms", tmp_path / "forms")
    shutil.copy(FIXTURES / "cases" / "hf_enum.bpmn", tmp_path / "bundles" / "hf_enum.bpmn")
    clean = run([fresh_venv / "hennan-flow", "validate", "bundles/clean_bundle.bpmn"], cwd=tmp_path)
    assert (clean.returncode, clean.stdout) == (0, ""), clean.stderr
    bad = run([fresh_venv / "hennan-flow", "validate", "bundles/hf_enum.bpmn"], cwd=tmp_path)
    assert bad.returncode == 1, bad.stderr
    [line] = [ln for ln in bad.stdout.splitlines() if "[HF-XSD]" in ln]
    lines = (tmp_path / "bundles" / "hf_enum.bpmn").read_text(encoding="utf-8").splitlines()
    where = next(n for n, text in enumerate(lines, start=1) if 'lifecycle="company"' in text)
    assert line.startswith(f'bundles/hf_enum.bpmn:{where}: element "hf_case": [HF-XSD] ')


def test_installed_console_script_version(fresh_venv: Path, tmp_path: Path) -> None:
    from importlib.metadata import version

    proc = _must(run([fresh_venv / "hennan-flow", "--version"], cwd=tmp_path))
    assert version("hennan-flow") in proc.stdout


def test_installed_engine_migrates_and_runs_a_whole_case(
    fresh_venv: Path, installed: dict[str, str], tmp_path: Path
) -> None:
    """`db upgrade` with the packaged migrations, deploy the packaged library, one case start to finish."""
    walks = json.loads(
        (Path(__file__).parent / "fixtures" / "bundles" / "walks.json").read_text(encoding="utf-8")
    )
    steps = walks["enterprise_opening"]["step_data"]
    cli = [fresh_venv / "hennan-flow", "--db", f"sqlite:///{tmp_path / 'wheel.db'}"]
    key = {"HENNAN_FLOW_KEY": base64.b64encode(os.urandom(32)).decode()}  # the installed cryptography seals
    upgraded = _must(run([*cli, "--format", "json", "db", "upgrade"], cwd=tmp_path))
    assert json.loads(upgraded.stdout)["up_to_date"] is True
    # a production database: the packaged sample directory first, then named users in their roles
    directory = Path(installed["package"]).parent / "data" / "directory.toml"
    _must(run([*cli, "directory", "load", directory], cwd=tmp_path))
    _must(run([*cli, "deploy", installed["processes"], "--actor", "admin-he"], cwd=tmp_path))
    case_id = json.loads(
        _must(
            run(
                [*cli, "--format", "json", "case", "start", "enterprise_opening", "--actor", "window-wang"],
                cwd=tmp_path,
                env=key,
            )
        ).stdout
    )["id"]
    for _ in range(10):
        ready = json.loads(
            _must(
                run([*cli, "--format", "json", "task", "list", "--case", case_id], cwd=tmp_path, env=key)
            ).stdout
        )
        if not ready:
            break
        for task in ready:
            data = json.dumps(steps[task["step"]], ensure_ascii=False)
            _must(
                run(
                    [
                        *cli,
                        "task",
                        "complete",
                        task["id"],
                        "--data",
                        data,
                        "--actor",
                        f"{task['department']}-h1",
                    ],
                    cwd=tmp_path,
                    env=key,
                )
            )
    shown = json.loads(
        _must(run([*cli, "--format", "json", "case", "show", case_id], cwd=tmp_path, env=key)).stdout
    )
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("wheel.db*"))
    assert steps["register"]["legal_rep_id_number"].encode() not in stored  # sealed at rest
    assert shown["state"] == "completed"
    assert len([e for e in shown["events"] if e["type"] == "task.completed"]) == len(steps)


def test_installed_package_audits_renders_and_runs_its_demo(
    fresh_venv: Path, installed: dict[str, str], tmp_path: Path
) -> None:
    """The catalogues, templates and demo script ship in the wheel: audit (HTML) and the demo run there."""
    cli = fresh_venv / "hennan-flow"
    audit = run(
        [cli, "audit", installed["processes"], "--format", "html", "--output", tmp_path / "a.html"],
        cwd=tmp_path,
    )
    assert audit.returncode == 0, audit.stderr
    assert "<html" in (tmp_path / "a.html").read_text(encoding="utf-8")
    demo = _must(run([cli, "--db", f"sqlite:///{tmp_path / 'demo.db'}", "demo"], cwd=tmp_path))
    assert demo.stdout.strip().splitlines()[-1] == "共 6 件案件，已办结 6 件"
