"""Chaos checks CI can run: faults, kill -9, concurrent writers, bad input. Loopback only.

Run: PYTHONPATH=. python -m bench.chaos [SCENARIO ...] [--docs 30] [--via reader|gateway]

Scenarios (all by default): faults kill9 writers run runkill9 runinput, and api mixed when the
REST API (service.api) is present.

Every scenario is bounded (small batches, a stand-in with 20 ms latency, a 2 s client timeout,
a hard timeout on every subprocess) and exits non-zero with the reason when a check fails.
The stand-in's ``/requests`` counts successful answers per request-body hash: ``repaid`` > 0
means the same request was paid for twice.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, standin, standin_requests, standin_reset, standin_stats

WORKER_TIMEOUT_S = 300
CANARY = "sk-canary-7f3a9c41e2"  # the API key of the faults run: must never be written anywhere


class ChaosFailure(Exception):
    """A reliability check failed."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise ChaosFailure(what)


def worker_cmd(base: str, cache: Path, docs: int, via: str, offset: int = 0) -> list[str]:
    return [
        sys.executable, "-m", "bench.chaos_worker", "--base", base, "--cache-dir", str(cache),
        "--docs", str(docs), "--offset", str(offset), "--via", via, "--api-key", CANARY,
    ]  # fmt: skip


def leaked(cache: Path, *texts: str) -> list[str]:
    """Where the canary API key shows up: worker output or any file under the cache dir."""
    places = [f"output {i}" for i, text in enumerate(texts) if CANARY in text]
    files = [p for p in cache.rglob("*") if p.is_file()]
    return places + [str(p) for p in files if CANARY.encode() in p.read_bytes()]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def run_worker(cmd: list[str]) -> tuple[list[dict[str, Any]], str]:
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=WORKER_TIMEOUT_S
    )
    check(proc.returncode == 0, f"worker exited {proc.returncode}: {proc.stderr[-800:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()], proc.stderr


def accounted(lines: list[dict[str, Any]], first: int, n: int) -> dict[str, int]:
    """Every document has exactly one status line; failures carry a reason."""
    per_doc = [ln for ln in lines if "doc" in ln]
    seen = sorted(ln["doc"] for ln in per_doc)
    check(seen == list(range(first, first + n)), f"documents not all accounted for: {seen}")
    check(any(ln.get("done") for ln in lines), "the batch did not finish")
    for ln in per_doc:
        check(ln["status"] in ("ok", "partial", "failed"), f"unknown status {ln}")
        check(ln["status"] == "ok" or bool(ln.get("reason")), f"failure without a reason: {ln}")
    return {s: sum(ln["status"] == s for ln in per_doc) for s in ("ok", "partial", "failed")}


def db_path(cache: Path) -> Path:
    return cache / "reader.sqlite3"


def db_count(cache: Path, table: str) -> int:
    with sqlite3.connect(db_path(cache)) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0])


def integrity(cache: Path) -> str:
    with sqlite3.connect(db_path(cache)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


# --- scenarios ------------------------------------------------------------------------------


def faults(n: int, via: str) -> dict[str, Any]:
    """20 % injected faults: every document accounted for, nothing paid twice, twice over."""
    with standin(latency=0.02, faults=0.2, seed=11) as base, tempfile.TemporaryDirectory() as t:
        cache = Path(t)
        first, err1 = run_worker(worker_cmd(base, cache, n, via))
        counts = accounted(first, 0, n)
        stats = standin_stats(base)
        again, err2 = run_worker(worker_cmd(base, cache, n, via))  # the re-run retries failures
        recount = accounted(again, 0, n)
        paid = standin_requests(base)
        leaks = leaked(cache, json.dumps(first), err1, json.dumps(again), err2)
    check(paid["repaid"] == 0, f"{paid['repaid']} requests were paid for twice")
    check(not leaks, f"the API key was written to: {leaks}")
    reasons = sorted({ln["reason"][:80] for ln in first if ln.get("reason")})
    del paid["log"]
    return {"docs": n, "first_run": counts, "stand_in": stats, "rerun": recount, "paid": paid,
            "failure_reasons": reasons, "api_key_leaks": 0}  # fmt: skip


def kill9(n: int, via: str) -> dict[str, Any]:
    """SIGKILL a batch mid-way; the database is intact and the re-run asks only what is left."""
    with standin(latency=0.1) as base, tempfile.TemporaryDirectory() as t:
        cache = Path(t)
        proc = subprocess.Popen(
            worker_cmd(base, cache, n, via), cwd=ROOT, env=env(), stdout=subprocess.DEVNULL
        )
        target = max(2, n // 3)
        deadline = time.monotonic() + WORKER_TIMEOUT_S
        while standin_stats(base).get("requests", 0) < target and time.monotonic() < deadline:
            check(proc.poll() is None, "the batch ended before it could be killed")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_after = standin_stats(base)["requests"]
        check(integrity(cache) == "ok", f"integrity_check after kill: {integrity(cache)}")
        cached_at_kill = db_count(cache, "cache")
        standin_reset(base)
        lines, _ = run_worker(worker_cmd(base, cache, n, via))
        counts = accounted(lines, 0, n)
        rerun_requests = standin_stats(base).get("requests", 0)
        cached_final = db_count(cache, "cache")
    check(counts["ok"] == n, f"re-run did not complete every document: {counts}")
    check(
        rerun_requests == cached_final - cached_at_kill,
        f"re-run made {rerun_requests} requests for {cached_final - cached_at_kill} new entries",
    )
    return {
        "docs": n,
        "killed_after_requests": killed_after,
        "cached_at_kill": cached_at_kill,
        "rerun_requests": rerun_requests,
        "integrity": "ok",
        "rerun": counts,
    }


def writers(n: int, via: str) -> dict[str, Any]:
    """Three batch processes on one database at once, overlapping documents: nothing lost."""
    with standin(latency=0.02) as base, tempfile.TemporaryDirectory() as t:
        cache = Path(t)
        offsets = (0, n // 2, n)
        procs = [
            subprocess.Popen(
                worker_cmd(base, cache, n, via, off),
                cwd=ROOT,
                env=env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for off in offsets
        ]
        outs = [p.communicate(timeout=WORKER_TIMEOUT_S) for p in procs]
        for p, (_, err) in zip(procs, outs, strict=True):
            check(p.returncode == 0, f"writer exited {p.returncode}: {err[-800:]}")
            check("locked" not in err.lower(), f"'database is locked' surfaced: {err[-800:]}")
        for off, (out, _) in zip(offsets, outs, strict=True):
            accounted([json.loads(ln) for ln in out.splitlines() if ln.strip()], off, n)
        distinct = n + n // 2 + n // 2  # offsets 0, n/2, n with n docs each cover 2n docs
        entries, ledger = db_count(cache, "cache"), db_count(cache, "calls")
        stored = {"documents": 0, "artifacts": 0}
        if via == "reader":
            stored["documents"] = db_count(cache, "documents")
            stored["artifacts"] = db_count(cache, "(SELECT DISTINCT doc_id FROM artifacts)")
        check(integrity(cache) == "ok", "integrity_check failed after concurrent writers")
        requests = standin_stats(base)["requests"]
    check(entries == 2 * n, f"{entries} cache entries for {2 * n} distinct documents")
    if via == "gateway":
        check(ledger == 3 * n, f"{ledger} ledger rows for {3 * n} calls")
    else:  # a writer that finds an artifact another one stored makes no call for it
        check(2 * n <= ledger <= 3 * n, f"{ledger} ledger rows for {2 * n}..{3 * n} calls")
    if via == "reader":
        check(stored["documents"] == 2 * n, f"{stored['documents']} documents stored of {2 * n}")
        check(stored["artifacts"] == 2 * n, f"artifacts for {stored['artifacts']} of {2 * n}")
    return {"processes": 3, "docs_each": n, "distinct_docs": distinct, "cache_entries": entries,
            "ledger_rows": ledger, "model_requests": requests, "integrity": "ok",
            **stored}  # fmt: skip


def cli_run(n: int, _via: str) -> dict[str, Any]:
    """`policy-reader run` twice under faults (bench/chaos_run.py)."""
    from bench import chaos_run

    try:
        return chaos_run.run(n)
    except chaos_run.RunFailure as exc:
        raise ChaosFailure(str(exc)) from None


def cli_kill9(n: int, _via: str) -> dict[str, Any]:
    """`policy-reader run` killed with SIGKILL and re-run (bench/chaos_run.py)."""
    from bench import chaos_run

    try:
        return chaos_run.kill9(n)
    except chaos_run.RunFailure as exc:
        raise ChaosFailure(str(exc)) from None


def api_sweep(_n: int, _via: str) -> dict[str, Any]:
    """The REST API over real HTTP under hostile input (bench/chaos_api.py)."""
    from bench import chaos_api

    try:
        return chaos_api.run()
    except chaos_api.ApiFailure as exc:
        raise ChaosFailure(str(exc)) from None


def api_and_run(n: int, _via: str) -> dict[str, Any]:
    """`policy-reader run` and the API on one database at once (bench/chaos_api.py)."""
    from bench import chaos_api

    try:
        return chaos_api.mixed(n)
    except chaos_api.ApiFailure as exc:
        raise ChaosFailure(str(exc)) from None


def cli_bad_input(_n: int, _via: str) -> dict[str, Any]:
    """`policy-reader run` over hostile files (bench/chaos_run.py)."""
    from bench import chaos_run

    try:
        return chaos_run.bad_inputs()
    except chaos_run.RunFailure as exc:
        raise ChaosFailure(str(exc)) from None


SCENARIOS: dict[str, Callable[[int, str], dict[str, Any]]] = {
    "faults": faults,
    "kill9": kill9,
    "writers": writers,
    "run": cli_run,
    "runkill9": cli_kill9,
    "runinput": cli_bad_input,
}
if importlib.util.find_spec("service.api") is not None:  # the REST API is part of this tree
    SCENARIOS |= {"api": api_sweep, "mixed": api_and_run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)} (all)")
    parser.add_argument("--docs", type=int, default=30)
    parser.add_argument("--via", choices=("reader", "gateway"), default="reader")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    failed = []
    for name in args.scenarios or list(SCENARIOS):
        t0 = time.perf_counter()
        try:
            result = SCENARIOS[name](args.docs, args.via)
        except ChaosFailure as exc:
            print(f"chaos {name}: FAILED: {exc}", file=sys.stderr)
            failed.append(name)
            continue
        emit(f"chaos-{name}", {"via": args.via, "seconds": round(time.perf_counter() - t0, 1),
                               **result})  # fmt: skip
    if failed:
        raise SystemExit(f"chaos failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
