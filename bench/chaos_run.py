"""`policy-reader run` on a corpus against a stand-in with 20 % faults, run twice.

Run: PYTHONPATH=. python -m bench.chaos_run [--docs 20]   (also: python -m bench.chaos run)

Checks: no traceback; exit code 0 (all ok) or 1 (something partial/failed, said so); when the
first run reports failures, the site says so too; the second run (same database, faults still
on) recomputes only what is missing — no successful request is paid twice — and the model
API key appears in no output, site page or database file.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    emit,
    standin,
    standin_requests,
    standin_reset,
    standin_stats,
    synthetic_docs,
)

CANARY = "sk-canary-run-90b1c3aa"
TIMEOUT_S = 600
# "failed: doc-012.txt translation: 1 of 1 chunks failed: <reason>" in run's report
FAILED_LINE = re.compile(r"^(?:failed|partial): (\S+) \w+: (.+)$", re.M)


class RunFailure(Exception):
    """A check on `policy-reader run` failed."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise RunFailure(what)


def cli_env(base: str, root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OPENAI_BASE_URL": base,
        "OPENAI_API_KEY": CANARY,
        "READER_MODEL": "gpt-4o-mini",
        "READER_CACHE_DIR": str(root / "cache"),
        "READER_TIMEOUT_S": "2",
        "READER_CONCURRENCY": "4",
    }


def cli_cmd(root: Path) -> list[str]:
    cmd = [sys.executable, "-m", "service.cli", "run", str(root / "corpus")]
    return [*cmd, "--out", str(root / "site"), "--tasks", "translation"]


def run_cli(base: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_cmd(root),
        cwd=root,
        env=cli_env(base, root),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def write_corpus(root: Path, n: int) -> None:
    (root / "corpus").mkdir()
    for i, text in enumerate(synthetic_docs(n)):
        (root / "corpus" / f"doc-{i:03d}.txt").write_text(text, encoding="utf-8")


def site_text(root: Path) -> str:
    pages = [p for p in (root / "site").rglob("*") if p.is_file()]
    return "\n".join(p.read_text(errors="replace") for p in pages)


def one_run(base: str, root: Path) -> dict[str, Any]:
    proc = run_cli(base, root)
    shown = proc.stdout + proc.stderr
    check("Traceback" not in shown, f"traceback from run: {shown[-1500:]}")
    check(proc.returncode in (0, 1), f"run exited {proc.returncode}: {shown[-800:]}")
    site = site_text(root)
    reported = FAILED_LINE.findall(proc.stdout)
    check(proc.returncode == 0 or bool(reported), "exit 1 but no failure reported")
    for name, reason in reported:
        # The reason's end (the model's own words) must reach the reader of the site.
        check(reason.strip()[-30:] in site, f"{name}: failure {reason!r} not shown in the site")
    return {
        "exit": proc.returncode,
        "reported_failures": [f"{n}: {r}" for n, r in reported],
        "site_files": len(list((root / "site").rglob("*.md"))),
    }


def run(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, standin(latency=0.02, faults=0.2, seed=11) as base:
        root = Path(tmp)
        write_corpus(root, n)
        first = one_run(base, root)
        stats_first = standin_stats(base)
        second = one_run(base, root)
        paid = standin_requests(base)
        files = [p for p in root.rglob("*") if p.is_file()]
        leaks = [str(p) for p in files if CANARY.encode() in p.read_bytes()]
    check(paid["repaid"] == 0, f"{paid['repaid']} successful requests were paid for twice")
    check(not leaks, f"the model API key was written to {leaks}")
    return {"docs": n, "first": first, "stand_in_first": stats_first, "second": second,
            "paid": {k: paid[k] for k in ("paid", "distinct", "repaid")}}  # fmt: skip


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def kill9(n: int) -> dict[str, Any]:
    """SIGKILL `policy-reader run` after a third of its requests; re-run it to completion."""
    with tempfile.TemporaryDirectory() as tmp, standin(latency=0.1) as base:
        root = Path(tmp)
        write_corpus(root, n)
        proc = subprocess.Popen(
            cli_cmd(root), cwd=root, env=cli_env(base, root),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + TIMEOUT_S
        while standin_stats(base).get("requests", 0) < n // 3 and time.monotonic() < deadline:
            check(proc.poll() is None, "run ended before it could be killed")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        db = root / "cache" / "reader.sqlite3"
        with sqlite3.connect(db) as conn:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        check(verdict == "ok", f"integrity_check after kill -9: {verdict}")
        cached, killed_after = count(db, "cache"), standin_stats(base)["requests"]
        standin_reset(base)
        again = run_cli(base, root)
        rerun_requests = standin_stats(base).get("requests", 0)
        new_entries = count(db, "cache") - cached
    check(again.returncode == 0, f"re-run after kill exited {again.returncode}")
    check(rerun_requests == new_entries, f"{rerun_requests} requests for {new_entries} entries")
    return {"docs": n, "killed_after_requests": killed_after, "cached_at_kill": cached,
            "integrity": verdict, "rerun_exit": 0, "rerun_requests": rerun_requests}  # fmt: skip


def bad_inputs() -> dict[str, Any]:
    """`policy-reader run` over a folder of hostile files: each one read or named as not read."""
    from bench.chaos_api import BAD

    with tempfile.TemporaryDirectory() as tmp, standin(latency=0.02) as base:
        root = Path(tmp)
        write_corpus(root, 2)
        for name, data in BAD.items():
            (root / "corpus" / name.replace(".bin", ".txt")).write_bytes(data)
        proc = run_cli(base, root)
    shown = proc.stdout + proc.stderr
    check("Traceback" not in shown, f"traceback from run: {shown[-1500:]}")
    unread = re.findall(r"^not read: (\S+):", proc.stderr, re.M)
    names = sorted(Path(u).name for u in unread)
    for name in ("empty.txt", "whitespace.txt", "binary.txt", "huge.txt"):
        check(name in names, f"{name} neither read nor reported as not read: {names}")
    check(proc.returncode == 1, f"run with unreadable files exited {proc.returncode}")
    return {"files": len(BAD) + 2, "not_read": names, "exit": proc.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--kill9", action="store_true", help="The kill -9 scenario instead.")
    args = parser.parse_args()
    try:
        result = kill9(args.docs) if args.kill9 else run(args.docs)
    except RunFailure as exc:
        raise SystemExit(f"chaos run: FAILED: {exc}") from None
    emit("chaos-run-kill9" if args.kill9 else "chaos-run", result)


if __name__ == "__main__":
    main()
