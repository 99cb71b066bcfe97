"""The installable package: the wheel ships the prompts and the glossary, and an installed copy
runs outside the checkout (prompts from the package, corpus/ and cache/ in the current folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

import service
import service.config as config
from service.config import ROOT, Settings
from service.ingest import ingest_path
from service.llm.profiles import LOCAL_PROFILE, PROFILES
from service.llm.prompts import PromptRegistry
from service.tasks.registry import CATALOG
from tests.conftest import SEEDS

# What a build reads; setuptools writes build/ and *.egg-info beside it, so it runs on a copy.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "service", "prompts")
PACKAGED = f"service/{config.PACKAGED_PROMPTS}"
PROMPT_FILES = sorted((ROOT / "prompts").glob("*/*.md"))


def _run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built the way CI's environment can: no isolation, no dependencies."""
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    _run([*pip, "-w", str(dist), str(src)])
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed by pip; its dependencies are this environment's.

    They come in through a plain path line, which adds the folder and runs none of its .pth
    files, so the editable install of the checkout there cannot shadow the installed copy.
    """
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = str(venv / "bin" / "python")
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([python, "-c", code]).strip())
    borrowed = sorted({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})
    (site / "borrowed-dependencies.pth").write_text("\n".join(borrowed) + "\n", encoding="utf-8")
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", str(wheel)]
    )
    return venv


def _tool(venv: Path, cwd: Path, program: str, *args: str) -> str:
    """Run a program of the venv in ``cwd`` with no project settings in the environment."""
    ours = ("READER_", "OPENAI_", "DATABASE_URL", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return _run([str(venv / "bin" / program), *args], cwd=cwd, env=env)


def _without_path(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "path"}


@pytest.mark.packaging
def test_wheel_ships_prompts_glossary_and_package_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        glossary = archive.read(f"{PACKAGED}/glossary.tsv")
    shipped = {f"{PACKAGED}/{p.relative_to(ROOT / 'prompts').as_posix()}" for p in PROMPT_FILES}
    assert PROMPT_FILES and shipped <= names
    assert glossary == (ROOT / "prompts" / "glossary.tsv").read_bytes()
    assert f"{PACKAGED}/README.md" not in names  # notes for editors, not read at run time
    # Every non-Python file of the package (TOML rules, a migrations folder if one appears).
    data = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "service").rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc")
    }
    assert data and data <= names


@pytest.mark.packaging
def test_installed_tool_runs_outside_the_checkout(
    venv: Path, tmp_path: Path, settings: Settings
) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(SEEDS[0], work / "some.txt")
    where = _tool(venv, work, "python", "-c", "import service; print(service.__file__)")
    assert Path(where.strip()).is_relative_to(venv)  # the installed copy, not the checkout

    listed = json.loads(_tool(venv, work, "policy-reader", "prompts", "list", "--json"))
    # No endpoint configured: the tool lists the active versions for the embedded model.
    wanted = PROFILES[LOCAL_PROFILE].wanted
    expected = PromptRegistry.load(ROOT / "prompts", catalog=CATALOG, wanted=wanted).listing()
    assert [_without_path(r) for r in listed] == [_without_path(r) for r in expected]
    assert all(Path(r["path"]).is_relative_to(venv) for r in listed)

    docs = json.loads(_tool(venv, work, "policy-reader", "ingest", "some.txt", "--json"))
    assert [d["id"] for d in docs] == [ingest_path(work / "some.txt", settings=settings).id]
    assert sorted(os.listdir(work)) == ["some.txt"]  # neither command made cache/ or corpus/


def test_checkout_defaults_are_the_checkout_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("READER_CACHE_DIR")
    s = Settings()
    assert config.from_checkout()
    assert (s.corpus_dir, s.prompts_dir, s.cache_dir) == (
        ROOT / "corpus",
        ROOT / "prompts",
        ROOT / "cache",
    )


def test_installed_defaults_are_the_packaged_prompts_and_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(config, "ROOT", tmp_path / "site-packages")  # no pyproject.toml there
    monkeypatch.delenv("READER_CACHE_DIR")
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert (s.corpus_dir, s.cache_dir) == (tmp_path / "corpus", tmp_path / "cache")
    assert s.prompts_dir == Path(service.__file__).parent / config.PACKAGED_PROMPTS
    monkeypatch.setenv("READER_PROMPTS_DIR", str(tmp_path / "mine"))
    assert Settings().prompts_dir == tmp_path / "mine"
