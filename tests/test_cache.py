"""Cache key canonicalisation and the `cache` / `prompts` CLI commands (the cache ones on
SQLite and on PostgreSQL, through DATABASE_URL)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from service.cli import app
from service.config import ROOT, Settings
from service.llm.gateway import cache_key
from service.llm.profiles import LOCAL_PROFILE, PROFILES
from service.store import CallRecord, Store
from tests.fakes import Configure


class A(BaseModel):
    x: int


class B(BaseModel):
    x: str


MSGS = {"messages": [{"role": "user", "content": "深圳"}], "temperature": 0, "max_tokens": 10}


def test_key_is_canonical_over_dict_order() -> None:
    reordered = {"max_tokens": 10, "temperature": 0, "messages": MSGS["messages"]}
    assert cache_key("m", "chat", MSGS, A) == cache_key("m", "chat", reordered, A)


@pytest.mark.parametrize(
    "other",
    [
        ("m2", "chat", MSGS, A),
        ("m", "other-mode", MSGS, A),
        ("m", "chat", {**MSGS, "temperature": 0.2}, A),
        ("m", "chat", MSGS, B),
        ("m", "chat", MSGS, None),
    ],
)
def test_key_changes_with_every_part(other: tuple) -> None:  # type: ignore[type-arg]
    assert cache_key("m", "chat", MSGS, A) != cache_key(*other)


def _fill(store: Store) -> None:
    for key, task, ver, model in [("k1", "translate", "v1", "a"), ("k2", "summary", "v1", "a")]:
        record = CallRecord(
            cache_key=key, task=task, prompt_id=task, prompt_version=ver, model=model,
            tokens_in=100, tokens_out=50, cost_usd=0.002,
        )  # fmt: skip
        store.put_cached(record, "r")
        for outcome in ("ok", "hit", "hit"):
            store.record_call(record.model_copy(update={"outcome": outcome}))


def test_cache_stats_json(db_settings: Settings) -> None:
    _fill(Store(db_settings.db_url))
    result = CliRunner().invoke(app, ["cache", "stats", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert (stats["entries"], stats["calls"], stats["hits"]) == (2, 6, 4)
    rows = {r["prompt"]: r for r in stats["by_prompt_model"]}
    assert rows["translate@v1"]["tokens_saved"] == 300
    assert rows["translate@v1"]["cost_saved_usd"] == pytest.approx(0.004)
    assert Store(db_settings.db_url).get_cached("k1").hits == 2  # type: ignore[union-attr]


def test_cache_stats_table(db_settings: Settings) -> None:
    _fill(Store(db_settings.db_url))
    result = CliRunner().invoke(app, ["cache", "stats"])
    assert result.exit_code == 0 and "hit rate 66.7%" in result.stdout
    assert "translate@v1" in result.stdout


def test_cache_prune(db_settings: Settings) -> None:
    _fill(Store(db_settings.db_url))
    runner = CliRunner()
    assert runner.invoke(app, ["cache", "prune", "--older-than", "30d"]).stdout.startswith(
        "removed 0"
    )
    result = runner.invoke(app, ["cache", "prune", "--prompt", "translate@v1"])
    assert result.exit_code == 0 and result.stdout.strip() == "removed 1 cache entry"
    assert Store(db_settings.db_url).cache_keys() == ["k2"]


def test_cache_prune_errors_are_one_line(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["cache", "prune", "--older-than", "soon"])
    assert result.exit_code == 1
    assert "Cannot read age" in result.output and "Traceback" not in result.output


def _prompt_rows() -> dict[tuple[str, str, str], dict[str, object]]:
    """``prompts list --json`` by (task, version, mode)."""
    result = CliRunner().invoke(app, ["prompts", "list", "--json"])
    assert result.exit_code == 0, result.output
    return {(r["task"], r["version"], r["mode"]): r for r in json.loads(result.stdout)}


def test_prompts_list_shows_each_files_strategy_and_the_active_one() -> None:
    rows = _prompt_rows()  # the embedded default: chat mode
    per_unit, chunk_json = rows[("translate", "v2", "chat")], rows[("translate", "v1", "chat")]
    assert (per_unit["strategy"], per_unit["active"]) == ("per_unit", True)
    assert (chunk_json["strategy"], chunk_json["active"]) == ("chunk_json", False)
    sections, rules_en = rows[("summary", "v2", "chat")], rows[("commitments", "v2", "chat")]
    assert (sections["strategy"], sections["active"]) == ("sections", True)
    assert (rules_en["strategy"], rules_en["active"]) == ("rules_en", True)
    assert (
        rows[("summary", "v1", "chat")]["active"]
        is rows[("commitments", "v1", "chat")]["active"]
        is False
    )
    assert rows[("summary_map", "v1", "chat")]["strategy"] == "map_reduce"
    assert len(str(per_unit["sha256"])) == 12
    table = CliRunner().invoke(app, ["prompts", "list"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "strategy" in table.output and "per_unit" in table.output


def test_prompts_list_marks_the_profiles_strategies_active_in_its_mode(
    configure: Configure,
) -> None:
    name = LOCAL_PROFILE
    configure(READER_PROFILE=name)
    profile = PROFILES[name]
    rows = _prompt_rows()
    for task, strategy in profile.strategies.items():
        active = [
            r for (t, _, m), r in rows.items() if t == task and m == profile.mode and r["active"]
        ]
        assert [r["strategy"] for r in active] == [strategy], (name, task)


def test_prompts_list_names_a_wrong_strategy_and_the_allowed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    path = tmp_path / "prompts" / "translate" / "v2.chat.md"
    path.write_text(path.read_text("utf-8").replace('"per_unit"', '"one_by_one"'), "utf-8")
    monkeypatch.setenv("READER_PROMPTS_DIR", str(tmp_path / "prompts"))
    monkeypatch.setenv("COLUMNS", "300")  # one line per error
    result = CliRunner().invoke(app, ["prompts", "list"])
    assert result.exit_code == 1
    assert "v2.chat.md: strategy 'one_by_one'" in result.output
    assert "translate's strategies: chunk_json, per_unit" in result.output


def test_prompts_list_reports_bad_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "v1.chat.md").write_text("no front matter", encoding="utf-8")
    monkeypatch.setenv("READER_PROMPTS_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["prompts", "list"])
    assert result.exit_code == 1 and "front matter" in result.output
