"""``policy-reader run``: progress lines, end summary, exit codes, --dry-run, option errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import respx
from typer.testing import CliRunner

import service.run.prefill
from service.cli import app
from service.config import Settings
from service.llm.profiles import LOCAL_PROFILE, PROFILES
from service.models import Document
from service.reader import Reader
from tests.fakes import CHAT, CorpusModel
from tests.samples import write_docs


def _invoke(args: list[str], model: CorpusModel | None = None) -> tuple[int, str, str]:
    with respx.mock(assert_all_called=False) as router:
        if model is not None:
            router.post(CHAT).mock(side_effect=model.handle)
        result = CliRunner().invoke(app, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_run_prints_plain_progress_and_a_summary_then_reruns_without_calls(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs, out = write_docs(tmp_path / "docs", ("a.txt", "b.txt")), tmp_path / "site"
    model = CorpusModel()
    code, stdout, stderr = _invoke(["run", str(docs), "--out", str(out)], model)
    assert code == 0, stdout + stderr
    # Not a terminal: plain lines, one per document-task at least, with counts.
    assert stderr.startswith("run: 2 documents × 3 tasks")
    task_lines = [line for line in stderr.splitlines() if " ok | docs " in line]
    assert len(task_lines) == 6 and "chunks" in task_lines[-1] and "tokens" in task_lines[-1]
    assert "\x1b[" not in stderr  # no terminal control codes in a log
    calls = sum(model.seen.values())
    assert f"this run: {calls} model calls ({calls} requests), 0 cache hits, 0 errors" in stdout
    assert "2 documents: 6 ok, 0 partial, 0 failed tasks" in stdout
    assert (out / "index.md").is_file() and "site: 8 files" in stdout

    again = CorpusModel()
    code, stdout, stderr = _invoke(["run", str(docs), "--out", str(out)], again)
    assert code == 0 and sum(again.seen.values()) == 0
    assert "this run: 0 model calls" in stdout and "6 already stored" in stderr


def test_a_failed_chunk_is_partial_and_exits_non_zero(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs = write_docs(tmp_path / "docs", ("b.txt",))
    model = CorpusModel(refuse_when="老旧小区")
    code, stdout, stderr = _invoke(["run", str(docs), "--out", str(tmp_path / "s")], model)
    assert code == 1
    assert "partial: b.txt translation: 1 of" in stdout.replace("\n", " ")
    assert "refused" in stdout
    assert "translation partial" in stderr


def test_mkdocs_option_writes_that_file_and_refuses_one_inside_out(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs, out = write_docs(tmp_path / "docs", ("a.txt",)), tmp_path / "site"
    inside = ["run", str(docs), "--out", str(out), "--mkdocs", str(out / "mkdocs.yml")]
    model = CorpusModel()
    code, _, stderr = _invoke(inside, model)
    assert code == 1 and "outside it" in stderr
    assert not out.exists() and sum(model.seen.values()) == 0  # refused before any work
    config = tmp_path / "mkdocs.yml"
    code, stdout, _ = _invoke([*inside[:-1], str(config)], model)
    assert code == 0 and f"mkdocs config: {config}" in stdout.replace("\n", "")
    assert 'docs_dir: "site"' in config.read_text("utf-8")


def test_endpoint_down_fails_the_tasks_and_still_writes_the_site(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs, out = write_docs(tmp_path / "docs", ("a.txt",)), tmp_path / "site"
    code, stdout, _ = _invoke(["run", str(docs), "--out", str(out)], CorpusModel(fail_after=0))
    assert code == 1
    assert "0 ok, 0 partial, 3 failed tasks" in stdout
    index = (out / "index.md").read_text("utf-8")
    assert "⚠ no summary; no translation; no list of commitments" in index
    assert "connection" not in index  # the reason is on the page, folded away
    (page,) = (out / "docs").glob("*.md")
    assert "connection" in page.read_text("utf-8").split("</details>")[0]


def test_dry_run_makes_no_call_and_starts_no_server(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.llm.endpoint as endpoint
    import service.llm.local as local

    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("--dry-run must not start or look for a model server")

    monkeypatch.setattr(endpoint, "resolve_endpoint", forbidden)
    monkeypatch.setattr(local.LocalServer, "prepare", forbidden)
    monkeypatch.setattr(local.LocalServer, "start", forbidden)
    docs = write_docs(tmp_path / "docs", ("a.txt", "b.txt"))
    with respx.mock(assert_all_called=False) as router:  # any request would be unmocked
        code, stdout, _ = _invoke(["run", str(docs), "--dry-run", "--out", str(tmp_path / "s")])
        assert not router.calls
    assert code == 0, stdout
    budget = PROFILES[LOCAL_PROFILE].chunk_budget  # the embedded default's
    assert f"profile {LOCAL_PROFILE}, {budget}-token chunks" in stdout
    assert "2 documents" in stdout and "no model was called" in stdout
    assert stdout.count("a.txt") == 3 and stdout.count("b.txt") == 3  # a row per task
    # The sections summary's translation calls are in the translation row; its note says so.
    assert "counted in the translation row" in stdout and "1 *" in stdout, stdout
    assert not (tmp_path / "s").exists()


def test_dry_run_prices_a_remote_model_and_the_batch_discount(
    run_settings: Settings, tmp_path: Path
) -> None:
    docs = write_docs(tmp_path / "docs", ("a.txt",))
    _, direct, _ = _invoke(["run", str(docs), "--dry-run", "--tasks", "translation"])
    _, batch, _ = _invoke(["run", str(docs), "--dry-run", "--tasks", "translation", "--batch-api"])
    assert "gpt-4o-mini, profile gpt-4o-mini, 40-token chunks" in direct
    price = float(direct.split("~$")[1].split(";")[0])
    assert price > 0
    assert float(batch.split("~$")[1].split(" ")[0]) == pytest.approx(price / 2, abs=1e-4)
    assert "at the Batch API price" in batch


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tasks", "summary,translate"], "unknown task(s) translate"),
        (["--tasks", "summary", "--force", "translation"], "force only tasks that run"),
    ],
)
def test_bad_options_are_one_line_errors(
    args: list[str], message: str, settings: Settings, tmp_path: Path
) -> None:
    code, _, stderr = _invoke(["run", str(tmp_path), *args])
    assert code == 1 and message in stderr and "Traceback" not in stderr


def test_batch_api_flag_calls_prefill_before_the_run(
    run_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[list[str], list[str]]] = []

    async def prefill(
        reader: Reader, docs: list[Document], kinds: list[str], *, progress: Callable[[str], None]
    ) -> None:
        seen.append(([d.source_name for d in docs], kinds))
        progress("Batch API round 1: 0 request(s) to submit")

    monkeypatch.setattr(service.run.prefill, "prefill", prefill)
    docs = write_docs(tmp_path / "docs", ("a.txt",))
    args = ["run", str(docs), "--tasks", "summary", "--batch-api", "--out", str(tmp_path / "s")]
    code, _, stderr = _invoke(args, CorpusModel())
    assert code == 0 and seen == [(["a.txt"], ["summary"])]
    assert "Batch API round 1" in stderr


def test_batch_api_with_the_local_model_is_refused_before_any_server_starts(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.llm.local as local

    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("no server for a run that cannot go ahead")

    monkeypatch.setattr(local.LocalServer, "start", forbidden)
    code, _, stderr = _invoke(["run", str(tmp_path), "--batch-api"])
    assert code == 1 and "needs an endpoint with the OpenAI Batch API" in stderr
