"""A client generated from /openapi.json works: openapi-python-client, as a user runs it.

The generator lives in an environment of its own (created once per machine under the user's
cache, from PyPI: its pins are not the service's); the client it writes is used from that
environment by tests/client_roundtrip.py against the served API (uvicorn on loopback,
READER_API_KEY set, the stand-in model): upload a file, compute its summary, poll the job,
read the summary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.fakes import API_KEY, Configure, live_api
from tests.samples import TEXT

GENERATOR = "openapi-python-client==0.29.1"
HERE = Path(__file__).resolve().parent
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def generator_env() -> Path:
    """A virtual environment with the generator (and so the generated client's needs)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    home = cache / "policy-reader-tests" / GENERATOR.replace("==", "-")
    done = home / ".installed"
    if not done.exists():
        shutil.rmtree(home, ignore_errors=True)  # a half-made one from an interrupted run
        subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=300)
        pip = [str(home / "bin" / "python"), "-m", "pip", "install", "-q", GENERATOR]
        subprocess.run(pip, check=True, timeout=600)
        done.touch()
    return home


def generate(env: Path, document: Path, out: Path) -> None:
    # The generator formats its output with ruff, which it brings along on its own PATH.
    path = f"{env / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    command = [str(env / "bin" / "openapi-python-client"), "generate", "--path", str(document)]
    command += ["--meta", "none", "--output-path", str(out)]
    done = subprocess.run(
        command, env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and "Warning" not in done.stdout, done.stdout + done.stderr
    for module in out.glob("api/*/*.py"):
        import_unset(module)


def import_unset(module: Path) -> None:
    """The generator's known bug (openapi-python-client issue 1451, open): an operation whose
    required body has several media types (our POST /v1/documents: JSON or multipart) is typed
    ``... | Unset`` without importing ``Unset``. Add the import it forgot."""
    code = module.read_text()
    plain = "from ...types import UNSET, Response\n"
    if "| Unset" in code and plain in code:
        module.write_text(code.replace(plain, "from ...types import UNSET, Response, Unset\n"))


def test_a_generated_client_uploads_summarises_polls_and_reads(
    configure: Configure, tmp_path: Path
) -> None:
    env = generator_env()
    sample = tmp_path / "notice.txt"
    sample.write_text(TEXT, encoding="utf-8")
    with live_api(configure) as base:
        document = tmp_path / "openapi.json"
        document.write_bytes(httpx.get(f"{base}/openapi.json").content)
        generate(env, document, tmp_path / "reader_client")
        run = subprocess.run(
            [str(env / "bin" / "python"), str(HERE / "client_roundtrip.py"), base, API_KEY, sample],
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        got = json.loads(run.stdout.splitlines()[-1])
        stored = httpx.get(f"{base}/v1/documents/{got['doc_id']}/summary", headers=AUTH).json()
    assert got["source_url"] == "https://www.gov.cn/zhengce/example.html"
    assert got["job_status"] == "done"
    assert got["job_artifact"] == f"/v1/documents/{got['doc_id']}/summary"
    assert got["summary_doc_id"] == got["doc_id"] and got["summary_status"] == stored["status"]
    assert got["summary"] == stored["summary"] and got["summary"]["abstract"]
