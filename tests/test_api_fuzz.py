"""Schemathesis with every check against the served API: the OpenAPI document is the contract.

``schemathesis run URL/openapi.json --checks all`` as a user runs it (the checkout's
schemathesis.toml applies), against ``policy-reader serve`` as it runs: uvicorn on loopback,
READER_API_KEY set, the stand-in model on loopback, one document stored. Positive and negative
data for every operation (the compute ones included: the stand-in answers), the coverage
phase, and the stateful phase following the document's links (document → artifacts → job).
A fixed seed keeps the run reproducible; ~20 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.config import ROOT
from tests.fakes import API_KEY, Configure, live_api
from tests.samples import TEXT

EXAMPLES = 40
SEED = 20261205
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def served(configure: Configure) -> Iterator[str]:
    """The served API with one document stored."""
    with live_api(configure) as base:
        added = httpx.post(f"{base}/v1/documents", json={"text": TEXT}, headers=AUTH)
        assert added.status_code == 201, added.text
        yield base


def schemathesis_run(base: str, report: Path) -> subprocess.CompletedProcess[str]:
    """The CLI with the checkout's config and hooks, its state (.schemathesis/) kept out."""
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "run",
        f"{base}/openapi.json",
        "-H",
        f"Authorization: Bearer {API_KEY}",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the hooks module, tests.schemathesis_hooks
    return subprocess.run(
        command, cwd=report.parent, env=env, capture_output=True, text=True, timeout=600
    )


def events(report: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in report.read_text().splitlines() if line.strip()]


def test_every_check_passes_against_the_served_api(served: str, tmp_path: Path) -> None:
    report = tmp_path / "events.ndjson"
    run = schemathesis_run(served, report)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in summary, summary
    fuzzed = fuzzed_operations(events(report))
    paths = set(httpx.get(f"{served}/openapi.json").json()["paths"])
    assert {path for _, path in fuzzed} == paths, fuzzed
    linked = linked_answers(events(report))
    # The stateful phase followed the links from a stored document to its artifacts (and, as
    # its random walk goes, on to their jobs: most runs do).
    computed = {(m, p) for m, p, s in linked if s < 300 and p.startswith("/v1/documents/{")}
    assert any(
        m == "POST" and p.endswith(("/summary", "/translation", "/commitments"))
        for m, p in computed
    ), linked


def scenarios(report: list[dict[str, Any]], phase: str) -> Iterator[dict[str, Any]]:
    """The recorded scenarios of one phase (those that sent requests)."""
    for event in report:
        finished = event.get("ScenarioFinished")
        if finished and finished["phase"] == phase and "cases" in finished.get("recorder", {}):
            yield finished["recorder"]


def fuzzed_operations(report: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(method, path) of every operation the fuzzing phase sent positive and negative data."""
    modes: dict[tuple[str, str], set[str]] = {}
    for recorder in scenarios(report, "fuzzing"):
        for case in recorder["cases"].values():
            value = case["value"]
            mode = value["meta"]["generation"]["mode"]
            modes.setdefault((value["method"], value["path"]), set()).add(mode)
    # An operation without parameters or body has no negative data to send.
    return {op for op, seen in modes.items() if "positive" in seen}


def linked_answers(report: list[dict[str, Any]]) -> set[tuple[str, str, int]]:
    """(method, path, status) of the stateful phase's calls made by following a link."""
    answers: set[tuple[str, str, int]] = set()
    for recorder in scenarios(report, "stateful"):
        for case_id, case in recorder["cases"].items():
            response = recorder["interactions"].get(case_id, {}).get("response")
            if case["is_transition_applied"] and response:
                value = case["value"]
                answers.add((value["method"], value["path"], response["status_code"]))
    return answers
