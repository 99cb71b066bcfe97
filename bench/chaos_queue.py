"""The job queue under chaos: PostgreSQL, 2 API processes, 2 queue workers, one killed -9.

Run: PYTHONPATH=. python -m bench.chaos_queue --docs 200   (``make chaos-queue``, in CI)

N documents × 3 tasks are POSTed to ``policy-reader serve --workers 2``; two
``policy-reader worker`` processes compute them against the stand-in model server with 20 %
injected faults, through one ``policy-reader relay`` (the one limit in flight, each call made
once, and the answers a dead worker had received kept for the worker that takes its job);
when a third of the jobs have ended, worker 1 is killed with SIGKILL and started again.
Checks: every job ends done, or failed with a reason; none is left queued or running (jobs
table and procrastinate's); every done job has its artifact; one job per (document, task);
nothing was paid for twice (the stand-in's ``repaid`` = 0); the relay is still up. Needs a
PostgreSQL server: READER_TEST_DATABASE_URL, else the URL ``.ci/postgres`` prints.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.common import (
    ROOT,
    emit,
    free_port,
    standin,
    standin_requests,
    standin_stats,
    synthetic_docs,
)
from tests.databases import fresh_database

KINDS = ("summary", "translation", "commitments")
CONCURRENCY = 8  # READER_CONCURRENCY: model calls in flight across both workers
DEADLINE_S = 1800
START_S = 180  # a loaded 2-core machine takes a while to import two API processes
CANARY = "sk-canary-queue-0c9b2e"
LOST_S = 1.0  # an answer sent to the killed worker this long before the kill: in its hands


class ChaosFailure(Exception):
    """A check of the queue's chaos run failed."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise ChaosFailure(what)


def server_url() -> str:
    url = (
        os.environ.get("READER_TEST_DATABASE_URL")
        or subprocess.run(
            [str(ROOT / ".ci" / "postgres")], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    check(url.startswith("postgresql"), f"no PostgreSQL URL: {url!r}")
    return url


def plain(url: str) -> str:
    return "postgresql://" + url.partition("://")[2]


def environment(db: str, base: str, cache: Path) -> dict[str, str]:
    return {
        **os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": db, "OPENAI_BASE_URL": base,
        "OPENAI_API_KEY": CANARY, "READER_MODEL": "gpt-4o-mini", "READER_CACHE_DIR": str(cache),
        "READER_CONCURRENCY": str(CONCURRENCY), "READER_TIMEOUT_S": "2", "READER_MAX_RETRIES": "3",
    }  # fmt: skip


class Processes:
    """The API and the workers, each started here and stopped by its own pid."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        cmd = [sys.executable, "-m", "service.cli", *args]
        env = env or self.env
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)

    def kill9(self, name: str) -> tuple[float, set[int]]:
        """SIGKILL; first SIGSTOP, so that the process's TCP ports can be listed before it dies
        (it runs no code in between). Those ports, and when the process was gone: until its
        sockets close, the stand-in can still send it an answer (measured: 15 ms after the
        SIGKILL was sent)."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGSTOP)
        ports = tcp_ports(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return time.time(), ports

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def tcp_ports(pid: int) -> set[int]:
    """The local ports of a process's TCP sockets (Linux /proc)."""
    fds = Path(f"/proc/{pid}/fd")
    inodes = set()
    for fd in fds.iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def lost_at_kill(
    repaid: dict[str, list[list[float]]], killed: float, ports: set[int]
) -> tuple[list[float], int]:
    """Of the requests paid twice: how long before the kill the first answer was sent, for
    those sent to the killed worker within LOST_S before it (it died holding the answer, and
    the job's next worker asked once more); and how many repayments that does not explain."""
    lags, other = [], 0
    for sends in repaid.values():
        at, port = sorted(sends)[0]
        if int(port) in ports and 0 <= killed - at <= LOST_S:
            lags.append(round(killed - at, 3))
            other += len(sends) - 2
        else:
            other += len(sends) - 1
    return lags, other


def wait_up(api: str, relay: str, procs: Processes) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        check(procs.alive("api"), "the API exited at start (see its log)")
        check(procs.alive("relay"), "the relay exited at start (see its log)")
        try:
            api_up = httpx.get(f"{api}/readyz", timeout=2).status_code == 200
            if api_up and httpx.get(f"{relay}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ChaosFailure(f"the API or the relay is not ready after {START_S} s")


def submit_all(http: httpx.Client, docs: list[str]) -> dict[str, tuple[str, str]]:
    """Upload the documents and POST every task; job id → (document id, task)."""
    jobs: dict[str, tuple[str, str]] = {}
    for text in docs:
        doc = http.post("/v1/documents", json={"text": text})
        check(doc.status_code in (200, 201), f"upload: {doc.status_code} {doc.text[:200]}")
        doc_id = doc.json()["id"]
        for kind in KINDS:
            started = http.post(f"/v1/documents/{doc_id}/{kind}")
            check(started.status_code == 202, f"POST {kind}: {started.status_code}")
            jobs[started.json()["id"]] = (doc_id, kind)
    return jobs


def ended(db: str) -> tuple[int, int]:
    """(jobs ended, jobs in all) from the jobs table."""
    with psycopg.connect(plain(db)) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status IN ('done', 'failed')), count(*) FROM jobs"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def run_until(db: str, target: int, deadline: float) -> None:
    """Until ``target`` jobs have ended (of the N × 3 the run submits)."""
    while time.monotonic() < deadline:
        if ended(db)[0] >= target:
            return
        time.sleep(0.5)
    raise ChaosFailure(f"{target} jobs not ended in {DEADLINE_S} s: (ended, rows) = {ended(db)}")


def audit(db: str, jobs: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The database after the run: every check of the module doc on the tables."""
    with psycopg.connect(plain(db)) as conn:
        rows = conn.execute("SELECT id, doc_id, kind, status, error, progress FROM jobs").fetchall()
        queue = dict(conn.execute("SELECT status, count(*) FROM procrastinate_jobs GROUP BY 1"))
        artifacts = {(d, k) for d, k in conn.execute("SELECT doc_id, kind FROM artifacts")}
    by_id = {r[0]: r for r in rows}
    check(set(by_id) == set(jobs), f"{len(by_id)} job rows for {len(jobs)} jobs submitted")
    statuses = Counter(r[3] for r in rows)
    check(set(statuses) <= {"done", "failed"}, f"jobs not ended: {statuses}")
    check(all(r[4] for r in rows if r[3] == "failed"), "a failed job has no reason")
    check(all((r[1], r[2]) in artifacts for r in rows if r[3] == "done"), "done, no artifact")
    check(not {"todo", "doing"} & set(queue), f"procrastinate jobs left live: {queue}")
    retried = sum(int((r[5] or {}).get("attempt", 0)) > 1 for r in rows)
    reasons = Counter(str(r[4])[:90] for r in rows if r[3] == "failed")
    return {"jobs": dict(statuses), "queue": queue, "retried_after_kill": retried,
            "failure_reasons": dict(reasons.most_common(5))}  # fmt: skip


def chaos(n: int, faults: float = 0.2) -> dict[str, Any]:
    docs = synthetic_docs(n)
    with ExitStack() as stack:
        db = stack.enter_context(fresh_database(server_url()))
        base = stack.enter_context(standin(latency=0.05, faults=faults, seed=16))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        relay = f"http://127.0.0.1:{free_port()}"
        env = {**environment(db, base, tmp / "cache"), "READER_RELAY_URL": relay}
        subprocess.run([sys.executable, "-m", "service.cli", "db", "upgrade"], env=env,
                       cwd=ROOT, check=True, capture_output=True)  # fmt: skip
        procs = Processes(env, tmp)
        stack.callback(procs.stop_all)
        port = free_port()
        relay_env = {k: v for k, v in env.items() if k != "READER_RELAY_URL"}
        procs.start("relay", "relay", "--port", relay.rsplit(":", 1)[1], env=relay_env)
        procs.start("api", "serve", "--workers", "2", "--port", str(port))
        procs.start("worker1", "worker", "--name", "w1")
        procs.start("worker2", "worker", "--name", "w2")
        api = f"http://127.0.0.1:{port}"
        wait_up(api, relay, procs)
        started = time.monotonic()
        deadline = started + DEADLINE_S
        total = n * len(KINDS)
        with httpx.Client(base_url=api, timeout=60) as http, ThreadPoolExecutor(1) as pool:
            # Submitted while the workers run: the kill lands mid-run however slow the POSTs.
            submitted = pool.submit(submit_all, http, docs)
            run_until(db, total // 3, deadline)
            killed, ports = procs.kill9("worker1")
            killed_at = ended(db)
            time.sleep(1)
            procs.start("worker1", "worker", "--name", "w1-again")
            jobs = submitted.result(timeout=max(1.0, deadline - time.monotonic()))
            run_until(db, total, deadline)
            sample = next(iter(jobs))
            check(http.get(f"/v1/jobs/{sample}").status_code == 200, "GET job from the API")
        elapsed = time.monotonic() - started
        check(procs.alive("relay"), "the relay exited (see its log)")
        relayed = httpx.get(f"{relay}/relay/stats", timeout=10).json()
        result = audit(db, jobs)
        paid, stats = standin_requests(base), standin_stats(base)
        leaks = [p.name for p in tmp.rglob("*.log") if CANARY in p.read_text(errors="replace")]
    peak = stats["max_in_flight"]
    lags, other = lost_at_kill(paid["repaid_sends"], killed, ports)
    return {"api_key_leaks": leaks, "docs": n, "faults": faults, "max_in_flight": peak,
            "limit": CONCURRENCY,
            "tasks": n * len(KINDS), "killed_when_ended": killed_at,
            "elapsed_s": round(elapsed, 1), **result, "stand_in": stats, "relay": relayed,
            "paid": {k: paid[k] for k in ("paid", "distinct", "repaid")},
            "repaid_lost_at_kill_s": lags, "repaid_otherwise": other,
            "repaid_sends": {k: [(round(t - killed, 3), p, p in ports) for t, p in v]
                             for k, v in paid["repaid_sends"].items()}}  # fmt: skip


def verdict(result: dict[str, Any]) -> None:
    """The checks on the counts (after the result is printed, so a failure shows its numbers)."""
    repaid, peak = result["paid"]["repaid"], result["max_in_flight"]
    check(repaid == 0, f"{repaid} requests were paid for twice")
    check(not result["api_key_leaks"], f"the API key was written to: {result['api_key_leaks']}")
    # The one limit across workers. With faults a timed-out request still counts at the
    # stand-in (it sleeps on) after the client let its slot go, so this holds without faults.
    check(result["faults"] > 0 or peak <= CONCURRENCY, f"{peak} in flight, limit {CONCURRENCY}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--faults", type=float, default=0.2, help="Share of failed requests.")
    args = parser.parse_args()
    try:
        result = chaos(args.docs, args.faults)
        emit("chaos_queue", result)
        verdict(result)
    except ChaosFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
