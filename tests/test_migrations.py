"""Schema migrations: alembic revisions, the pre-alembic database, the models they must match;
on SQLite and on PostgreSQL (``empty_url``), with processes starting together."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel
from typer.testing import CliRunner

import service.store.tables  # noqa: F401  (the models the schema must match)
from service.cli import app
from service.errors import ConfigError
from service.store import Store
from service.store.db import make_engine
from service.store.migrations import (
    alembic_config,
    current,
    head,
    migration_connection,
    newest_revision,
    upgrade,
)
from tests.databases import at_once
from tests.racers import open_store
from tests.samples import DATA

# A database made by the store before alembic: its DDL, one row or two per table, schema_version 1.
PRE_ALEMBIC = DATA / "store_pre_alembic.sql"
TABLES = ("artifacts", "cache", "calls", "chunks", "documents", "jobs")


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _pre_alembic_db(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(PRE_ALEMBIC.read_text(encoding="utf-8"))
    return path


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the data tables, in primary-key order."""
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}


def _schema(path: Path, *, skip: str) -> set[tuple[str, str, str]]:
    """(type, name, DDL) of every table and index except the version table ``skip``."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        return {r for r in rows if r[1] != skip}


def _diff_from_models(engine: Engine) -> str:
    """The Python code of a revision that would bring the database to the models ('' if none)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"render_as_batch": True})
        if not compare_metadata(context, SQLModel.metadata):
            return ""
        ops = produce_migrations(context, SQLModel.metadata).upgrade_ops
        assert ops is not None
        return render_python_code(ops, render_as_batch=True)


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database without any table: a new SQLite file, then a new PostgreSQL database."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_empty_url"))
    return _url(tmp_path / "new.sqlite3")


def _versions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def test_new_database_is_at_head_and_matches_the_models(empty_url: str) -> None:
    store = Store(empty_url)
    assert store.schema_revision == head() == "0002"
    assert _diff_from_models(store.engine) == ""
    assert set(sa.inspect(store.engine).get_table_names()) == {*TABLES, "alembic_version"}
    store.close()


def test_processes_opening_an_empty_database_together_migrate_it_once(empty_url: str) -> None:
    # Without the lock around the upgrade, the later CREATE TABLEs fail on PostgreSQL
    # ("relation already exists", or a duplicate key in pg_type).
    assert at_once(open_store, [(empty_url,)] * 4) == [0] * 4
    store = Store(empty_url)
    assert _versions(store.engine) == [head()]
    assert _diff_from_models(store.engine) == ""
    store.close()


def test_first_revision_is_the_pre_alembic_schema_frozen(tmp_path: Path) -> None:
    engine = make_engine(_url(tmp_path / "r1.sqlite3"))
    assert upgrade(engine, "0001") == (None, "0001")
    legacy = _schema(_pre_alembic_db(tmp_path / "legacy.sqlite3"), skip="schema_version")
    assert _schema(tmp_path / "r1.sqlite3", skip="alembic_version") == legacy


def test_database_at_the_first_revision_upgrades_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "r1.sqlite3"
    upgrade(make_engine(_url(path)), "0001")
    legacy = _rows(_pre_alembic_db(tmp_path / "legacy.sqlite3"))
    with sqlite3.connect(path) as conn:
        for table, rows in legacy.items():
            marks = ", ".join("?" * len(rows[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    store = Store(_url(path))
    assert store.schema_revision == head()
    assert _rows(path) == legacy
    assert _diff_from_models(store.engine) == ""


def test_pre_alembic_database_is_stamped_and_upgraded_not_recreated(tmp_path: Path) -> None:
    path = _pre_alembic_db(tmp_path / "legacy.sqlite3")
    before = _rows(path)
    store = Store(_url(path))
    assert store.schema_revision == head()
    assert _rows(path) == before
    assert "schema_version" not in _tables(path)
    assert _diff_from_models(store.engine) == ""
    # The old rows read back through the store as they were written.
    doc = store.get_document("d1")
    assert doc.text == "第一段。\n第二段。" and [p.id for p in doc.paragraphs] == ["p1", "p2"]
    assert [c["text"] for c in store.get_chunk_rows("d1", 500)] == ["第一段。", "第二段。"]
    artifact = store.get_artifact("d1", "summary", "summary@v1|m")
    assert artifact is not None and artifact.payload == {"headline": "Two paragraphs"}
    assert (store.cache_stats().calls, store.cache_stats().hits) == (2, 1)
    cached = store.get_cached("k1")
    assert cached is not None and cached.hits == 1


def test_reopening_applies_nothing(empty_url: str) -> None:
    Store(empty_url).close()
    engine = make_engine(empty_url)
    assert upgrade(engine) == (head(), head())
    assert _versions(engine) == [head()]
    engine.dispose()


def test_the_newest_revision_by_file_name_is_alembics_head() -> None:
    assert newest_revision() == head()


def test_a_database_at_head_is_opened_without_alembic(tmp_path: Path) -> None:
    url = _url(tmp_path / "r.sqlite3")
    Store(url).close()
    code = (
        "import sys; from service.store import Store; "
        f"Store({url!r}).close(); print('alembic' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def test_unknown_pre_alembic_version_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = _pre_alembic_db(tmp_path / "legacy.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (2, '2026-12-05 00:00:00')")
    with pytest.raises(ConfigError, match=r"pre-alembic schema versions \[1, 2\]"):
        Store(_url(path))
    assert "alembic_version" not in _tables(path)


def test_database_newer_than_the_code_is_refused(empty_url: str) -> None:
    store = Store(empty_url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    with pytest.raises(ConfigError, match=r"revision 9999 .* knows up to 0002"):
        Store(empty_url)


def test_downgrade_to_empty_and_back(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine)
    with migration_connection(engine) as conn:
        command.downgrade(alembic_config(conn), "base")
        assert current(conn) is None
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    assert upgrade(engine) == (None, head())
    assert _diff_from_models(engine) == ""
    engine.dispose()


def test_batch_rebuild_of_a_parent_table_keeps_its_children(tmp_path: Path) -> None:
    # What a future revision altering `documents` does on SQLite: copy, drop, rename. With
    # foreign keys enforced, the drop would cascade to chunks and artifacts.
    path = _pre_alembic_db(tmp_path / "legacy.sqlite3")
    store = Store(_url(path))
    with migration_connection(store.engine) as conn:
        ops = Operations(MigrationContext.configure(conn))
        with ops.batch_alter_table("documents", recreate="always") as batch:
            batch.add_column(sa.Column("note", sa.String(), nullable=True))
    assert len(store.get_chunk_rows("d1", 500)) == 2
    assert store.get_artifact("d1", "summary") is not None
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_cli_db_upgrade(empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_url)
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "database schema upgraded from revision (empty) to 0002"
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.stdout.strip() == "database schema at revision 0002, up to date"
    engine = make_engine(empty_url)  # the database DATABASE_URL names, not the default one
    assert _versions(engine) == [head()]
    engine.dispose()


def test_cli_db_upgrade_adopts_a_pre_alembic_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _pre_alembic_db(tmp_path / "legacy.sqlite3")
    monkeypatch.setenv("DATABASE_URL", _url(path))
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "database schema upgraded from revision 0001 to 0002"


def test_cli_db_upgrade_refusal_is_one_red_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _pre_alembic_db(tmp_path / "legacy.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM schema_version")
    monkeypatch.setenv("DATABASE_URL", _url(path))
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "error: The database has pre-alembic schema versions []" in result.output
    assert "Traceback" not in result.output
