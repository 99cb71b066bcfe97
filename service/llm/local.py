"""The embedded local model: llama-cpp-python's OpenAI-compatible server on loopback.

Used when no endpoint is configured (``Settings.uses_local_model``; resolved in
``service/llm/endpoint.py``). ``LocalServer`` prepares, starts, reuses and stops the server
process. A state file in the cache dir lets a second run reuse a server that is already up;
only the process that started a server stops it. The server runs the default of the embedded
models' table (``service/llm/embedded.py``), assembled into the cache dir on first use, or the
GGUF file READER_LOCAL_MODEL_PATH names.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn, Self

import httpx

from service.config import Settings
from service.errors import (
    LocalExtraMissing,
    LocalModelMissing,
    LocalPortBusy,
    LocalServerFailed,
)
from service.llm import embedded
from service.llm.embedded import DEFAULT_MODEL
from service.llm.profiles import LOCAL_MODEL_NAME

log = logging.getLogger(__name__)

LOCAL_MODEL_ALIAS = LOCAL_MODEL_NAME  # what the server calls the model, and we send
HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STATE_FILE = "local-server.json"
LOG_FILE = "local-server.log"
LOG_MAX_BYTES = 5 * 1024 * 1024  # the log is appended per start; start afresh past this size
INSTALL_HINT = (
    "install with pip install 'policy-reader[local]' (builds llama-cpp-python, ~9 min) "
    "or set OPENAI_BASE_URL/OPENAI_API_KEY to use a remote model"
)


# --- model file --------------------------------------------------------------------------------


def model_path(settings: Settings) -> Path:
    """Where the GGUF lives: READER_LOCAL_MODEL_PATH, else the default embedded model's file
    under the cache dir (an already assembled file keeps its name and is reused)."""
    return settings.local_model_path or settings.cache_dir / "models" / DEFAULT_MODEL.file_name


def ensure_model(settings: Settings) -> Path:
    """A usable GGUF path: READER_LOCAL_MODEL_PATH's file, else the default embedded model
    assembled once from its part packages (verified by sha256; progress on stderr)."""
    if settings.local_model_path is not None:
        return _own_model_file(settings.local_model_path)
    path = model_path(settings)
    try:
        return embedded.assemble(
            DEFAULT_MODEL, path.parent, progress=AssemblyLog(DEFAULT_MODEL.title)
        )
    except LocalModelMissing as exc:  # same type, with the one fix only the settings know
        raise type(exc)(
            f"{exc.message}; or set READER_LOCAL_MODEL_PATH to a GGUF file of your own "
            f"(unset, the model is assembled into {path})"
        ) from exc


def _own_model_file(path: Path) -> Path:
    """The operator's file: it need not be the packaged model, so only the GGUF magic is
    checked; a missing one is an error (we never write a model to an unexpected place)."""
    if not path.is_file():
        raise LocalModelMissing(
            f"READER_LOCAL_MODEL_PATH is {path}, which is not a file; point it at a GGUF "
            f"model file, or unset it to use the packaged {DEFAULT_MODEL.title} (assembled "
            "under the cache dir)"
        )
    _check_gguf_header(path)
    return path


def _check_gguf_header(path: Path) -> None:
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise LocalModelMissing(
                f"{path} is not a GGUF model file; point READER_LOCAL_MODEL_PATH at a .gguf file "
                f"or unset it to use the packaged {DEFAULT_MODEL.title}"
            )


class AssemblyLog:
    """Progress of a first assembly as warning lines (stderr on the CLI): one per tenth."""

    STEPS = 10

    def __init__(self, title: str) -> None:
        self.title = title
        self._next = 1  # the next tenth to report

    def __call__(self, done: int, total: int) -> None:
        step = done * self.STEPS // total if total else self.STEPS
        if step >= self._next:
            self._next = step + 1
            log.warning(
                "Assembling %s: %d%% (%d of %d MB)",
                self.title, 100 * step // self.STEPS, done >> 20, total >> 20,
            )  # fmt: skip


# --- processes, ports and probes ---------------------------------------------------------------


def require_local_extra() -> None:
    """Fail clearly when llama-cpp-python[server] is not installed."""
    for module in ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context"):
        if not _module_available(module):
            raise LocalExtraMissing(
                f"no model endpoint is configured and the local model server is not installed "
                f"(module {module!r} is missing): {INSTALL_HINT}"
            )


def _module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[name] is None (import blocked)
        return False


def free_port() -> int:
    """A loopback port that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a port left in TIME_WAIT by our last server is free for uvicorn too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def base_url_for(port: int) -> str:
    return f"http://{HOST}:{port}/v1"


def serves_our_model(base_url: str, timeout_s: float = 2.0) -> bool:
    """True when ``GET {base_url}/models`` lists our model alias."""
    try:
        # trust_env=False: an HTTP(S)_PROXY must never see loopback traffic.
        response = httpx.get(f"{base_url}/models", timeout=timeout_s, trust_env=False)
        body: Any = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):  # not listening, too slow, or not JSON: not ours
        return False
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return False
    return any(isinstance(m, dict) and m.get("id") == LOCAL_MODEL_ALIAS for m in data)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


# --- state file --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerState:
    """What ``local-server.json`` records about the running server."""

    pid: int
    port: int
    model_path: str

    @classmethod
    def read(cls, path: Path) -> ServerState | None:
        """The recorded state, or None when absent or unreadable (then it is simply stale)."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(pid=int(raw["pid"]), port=int(raw["port"]), model_path=str(raw["model"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        payload = {"pid": self.pid, "port": self.port, "model": self.model_path}
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(partial, path)


# --- the server --------------------------------------------------------------------------------


class LocalServer:
    """Start (or reuse) the llama.cpp server; ``with LocalServer(s) as srv: srv.base_url``."""

    def __init__(self, settings: Settings, *, ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        self.settings = settings
        self.ready_timeout_s = ready_timeout_s
        self.base_url: str | None = None
        self.owned = False  # True only for the process that started the server
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0
        self._port: int | None = None  # chosen by prepare() when no server runs yet
        self._model: Path | None = None
        # start() runs in a worker thread; a stop() from another thread (the run ending, or
        # being cancelled, while the server starts) waits for it, so nothing is orphaned.
        self._lock = threading.Lock()
        # Set by stop() first thing: a start in progress gives up, a later one never spawns.
        self._stopping = threading.Event()

    @property
    def state_path(self) -> Path:
        return self.settings.cache_dir / STATE_FILE

    @property
    def log_path(self) -> Path:
        return self.settings.cache_dir / LOG_FILE

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def prepare(self) -> str:
        """Return the base URL a server will answer on, without starting one.

        Reuses a running server; otherwise does the cheap checks (free port, installed extra,
        model file) so a misconfiguration fails before any work, and leaves the spawn to
        ``start``, which the gateway calls before its first request: a run whose every answer
        is cached never starts the server."""
        if self.base_url is not None:
            return self.base_url
        reused = self.find_running()
        if reused is not None:
            log.info("Reusing the local model server at %s", reused)
            self.base_url = reused
            return reused
        port = self._choose_port()  # cheap checks first, before a 245 MB assembly
        require_local_extra()
        self._model = ensure_model(self.settings)
        self._port, self.base_url = port, base_url_for(port)
        return self.base_url

    def start(self) -> str:
        """Return the base URL (``http://127.0.0.1:PORT/v1``) of a ready server."""
        with self._lock:
            return self._start()

    def _start(self) -> str:
        if self._stopping.is_set():
            raise LocalServerFailed("the run ended before the local model server was started")
        url = self.prepare()
        if self._port is None or self._proc is not None:  # reused, or started already
            return url
        if not port_is_free(self._port):  # taken since prepare(): the URL is fixed by now
            if serves_our_model(url):  # another run started ours there meanwhile: share it
                self._port = None
                return url
            raise LocalPortBusy(
                f"port {self._port} on {HOST}, chosen for the local model server, was taken "
                "by another program before the server started; run again, or set "
                "READER_LOCAL_PORT to a port kept free for it"
            )
        assert self._model is not None  # set with _port by prepare()
        try:
            proc = self._spawn(self._model, self._port)
            self._wait_ready(proc, url)
            ServerState(pid=proc.pid, port=self._port, model_path=str(self._model)).write(
                self.state_path
            )
        except BaseException as exc:  # failure, or stop() meanwhile: never leave an orphan
            self._terminate()
            self._proc = None
            if isinstance(exc, OSError):  # the log or state file: say so, as a start failure
                raise LocalServerFailed(f"could not start the local model server: {exc}") from exc
            raise
        self.owned = True
        return url

    def stop(self) -> None:
        """Stop the server if this object started it; a reused server keeps running."""
        self._stopping.set()  # before the lock: a start that holds it stops waiting
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._proc is not None:
            self._terminate()
            state = ServerState.read(self.state_path)
            if state is not None and state.pid == self._proc.pid:
                self.state_path.unlink(missing_ok=True)
            self._proc = None
        self.base_url, self.owned, self._port = None, False, None

    def wait(self) -> int:
        """Block until the server this object started exits; return its exit code."""
        if self._proc is None:
            raise LocalServerFailed("wait() needs a server started by this process")
        return self._proc.wait()

    def find_running(self) -> str | None:
        """A running server with our model: the recorded one, or one on READER_LOCAL_PORT."""
        wanted_port = self.settings.local_port
        state = ServerState.read(self.state_path)
        if (
            state is not None
            and state.model_path == str(model_path(self.settings))
            and wanted_port in (None, state.port)
            and pid_alive(state.pid)
            and serves_our_model(base_url_for(state.port))
        ):
            return base_url_for(state.port)
        if wanted_port is not None and serves_our_model(base_url_for(wanted_port)):
            return base_url_for(wanted_port)
        return None

    def _choose_port(self) -> int:
        port = self.settings.local_port
        if port is None:
            return free_port()
        if not port_is_free(port):
            raise LocalPortBusy(
                f"port {port} on {HOST} (READER_LOCAL_PORT) is in use by something that is not "
                "Policy Reader's local model server; set READER_LOCAL_PORT to a free port, or "
                "unset it to let Policy Reader pick one"
            )
        return port

    def _spawn(self, path: Path, port: int) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(path),
            "--model_alias", LOCAL_MODEL_ALIAS,
            "--host", HOST,
            "--port", str(port),
            *DEFAULT_MODEL.server_args(),
            "--n_threads", str(self.settings.local_threads),
            "--n_threads_batch", str(self.settings.local_threads),
        ]  # fmt: skip
        self._log = self._open_log()
        log.info("Starting the local model server: %s", " ".join(command))
        try:
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            self._terminate()  # closes the log handle
            raise LocalServerFailed(f"could not start {sys.executable}: {exc}") from exc
        return self._proc

    def _open_log(self) -> IO[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        too_big = self.log_path.exists() and self.log_path.stat().st_size > LOG_MAX_BYTES
        handle = self.log_path.open("wb" if too_big else "ab")
        self._log_offset = handle.tell()
        return handle

    def _wait_ready(self, proc: subprocess.Popen[bytes], url: str) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while not serves_our_model(url, timeout_s=1.0):
            if self._stopping.is_set():
                raise LocalServerFailed("the run ended while the local model server was starting")
            code = proc.poll()
            if code is not None:
                self._fail(f"the local model server exited with code {code} during start-up")
            if time.monotonic() > deadline:
                self._fail(f"the local model server was not ready after {self.ready_timeout_s} s")
            time.sleep(0.25)

    def _fail(self, what: str) -> NoReturn:
        raise LocalServerFailed(
            f"{what}; see {self.log_path} (last lines below) — or set OPENAI_BASE_URL/"
            f"OPENAI_API_KEY to use a remote model\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 15) -> str:
        """The last lines this run wrote to the server log."""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(self._log_offset)
                text = fh.read().decode("utf-8", errors="replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def _terminate(self) -> None:
        """SIGTERM, wait, then SIGKILL; always close the log handle."""
        proc = self._proc
        try:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)
