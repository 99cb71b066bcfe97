"""`policy-reader serve` hands the app (or, with workers, the factory) to uvicorn."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from service.api import server
from service.cli import app


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(server.uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
    return calls


def test_serve_runs_the_app_on_loopback_by_default(runs: list[tuple[Any, dict[str, Any]]]) -> None:
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    [(target, kw)] = runs
    assert isinstance(target, FastAPI)
    assert (kw["host"], kw["port"]) == ("127.0.0.1", 8000)


def test_serve_with_workers_uses_the_factory(runs: list[tuple[Any, dict[str, Any]]]) -> None:
    result = CliRunner().invoke(app, ["serve", "--port", "8123", "--workers", "2"])
    assert result.exit_code == 0, result.output
    [(target, kw)] = runs
    assert target == "service.api.app:create_app"
    assert (kw["factory"], kw["workers"], kw["port"]) == (True, 2, 8123)


def test_serve_refuses_zero_workers(runs: list[tuple[Any, dict[str, Any]]]) -> None:
    result = CliRunner().invoke(app, ["serve", "--workers", "0"])
    assert result.exit_code == 1 and "at least 1" in result.output
    assert runs == []
