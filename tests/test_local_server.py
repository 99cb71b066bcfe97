"""The embedded local model server: ports, reuse, start-up failures, and one real e2e run.

Reuse is tested against a tiny real HTTP server on loopback (real sockets, no mocks).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.config import Settings
from service.errors import (
    LocalExtraMissing,
    LocalModelMissing,
    LocalModelPartsMissing,
    LocalPortBusy,
    LocalServerFailed,
)
from service.llm.embedded import DEFAULT_MODEL, sidecar_path
from service.llm.endpoint import resolve_endpoint
from service.llm.local import (
    LOCAL_MODEL_ALIAS,
    AssemblyLog,
    LocalServer,
    ServerState,
    base_url_for,
    ensure_model,
    free_port,
    model_path,
    pid_alive,
    port_is_free,
    require_local_extra,
    serves_our_model,
)
from tests.fakes import OUTSIDE_VARIABLES

HAS_LLAMA = all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "uvicorn"))
needs_llama = pytest.mark.skipif(
    not HAS_LLAMA, reason="llama-cpp-python[server] not installed (pip install '.[local]')"
)
HAS_MODEL = all(importlib.util.find_spec(part.module) is not None for part in DEFAULT_MODEL.parts)
needs_model = pytest.mark.skipif(
    not HAS_MODEL, reason=f"the part packages of {DEFAULT_MODEL.title} are not installed"
)


# --- a fake OpenAI-compatible server: real HTTP on loopback -----------------------------------


def _models_handler(model_id: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/v1/models":
                self.send_error(404)
                return
            body = json.dumps(
                {
                    "object": "list",
                    "data": [
                        {"id": model_id, "object": "model", "owned_by": "me", "permissions": []}
                    ],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def fake_server() -> Iterator[tuple[int, ThreadingHTTPServer]]:
    """A loopback server whose /v1/models lists our model alias; yields its port."""
    yield from _serve(LOCAL_MODEL_ALIAS)


@pytest.fixture
def foreign_server() -> Iterator[tuple[int, ThreadingHTTPServer]]:
    """A loopback OpenAI-compatible server serving some other model."""
    yield from _serve("someone-elses-model")


def _serve(model_id: str) -> Iterator[tuple[int, ThreadingHTTPServer]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _models_handler(model_id))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --- ports ----------------------------------------------------------------------------------


def test_free_port_is_bindable_on_loopback() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    assert port_is_free(port)


def test_port_held_by_a_listener_is_not_free() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not port_is_free(sock.getsockname()[1])


def test_busy_configured_port_names_the_variable_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        monkeypatch.setenv("READER_LOCAL_PORT", str(port))
        with pytest.raises(LocalPortBusy) as info:
            LocalServer(Settings()).start()
    assert f"port {port}" in info.value.message
    assert "READER_LOCAL_PORT" in info.value.message
    assert "not Policy Reader's local model server" in info.value.message


def test_port_serving_another_model_is_a_clash(
    monkeypatch: pytest.MonkeyPatch, foreign_server: tuple[int, ThreadingHTTPServer]
) -> None:
    port, _ = foreign_server
    monkeypatch.setenv("READER_LOCAL_PORT", str(port))
    with pytest.raises(LocalPortBusy):
        LocalServer(Settings()).start()


# --- missing pieces -------------------------------------------------------------------------


def test_missing_extra_says_how_to_install_or_go_remote(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes the import fail
    with pytest.raises(LocalExtraMissing) as info:
        require_local_extra()
    message = info.value.message
    assert "pip install 'policy-reader[local]'" in message
    assert "OPENAI_BASE_URL/OPENAI_API_KEY" in message
    assert info.value.status == 500


def test_missing_extra_stops_start_before_any_process(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    server = LocalServer(settings)
    with pytest.raises(LocalExtraMissing):
        server.start()
    assert server.pid is None and server.base_url is None


def test_model_missing_without_a_part_package_names_file_and_fix(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    part = DEFAULT_MODEL.parts[1]
    monkeypatch.setitem(sys.modules, part.module, None)  # makes its import fail
    with pytest.raises(LocalModelPartsMissing) as info:
        ensure_model(settings)
    message = info.value.message
    assert str(model_path(settings)) in message
    assert f"{part.distribution} (not installed)" in message
    assert f"pip install {part.requirement}" in message
    assert "READER_LOCAL_MODEL_PATH" in message and "OPENAI_BASE_URL" in message
    assert not model_path(settings).parent.exists()  # failed before writing anything


def test_own_model_path_that_does_not_exist_is_refused_not_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "models" / "mine.gguf"
    monkeypatch.setenv("READER_LOCAL_MODEL_PATH", str(missing))
    with pytest.raises(LocalModelMissing) as info:
        ensure_model(Settings())
    assert f"READER_LOCAL_MODEL_PATH is {missing}, which is not a file" in info.value.message
    assert not missing.parent.exists()  # no 245 MB written where nobody expects it


def test_own_model_file_that_is_not_gguf_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"<html>not a model</html>")
    monkeypatch.setenv("READER_LOCAL_MODEL_PATH", str(bogus))
    with pytest.raises(LocalModelMissing, match="is not a GGUF model file"):
        ensure_model(Settings())


@needs_model
def test_corrupt_packaged_model_is_reassembled_and_verified(settings: Settings) -> None:
    path = model_path(settings)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"GGUF truncated download")
    assert ensure_model(settings) == path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == DEFAULT_MODEL.sha256
    mtime = path.stat().st_mtime_ns
    assert ensure_model(settings) == path  # verified file is reused, not rewritten
    assert path.stat().st_mtime_ns == mtime
    assert not list(path.parent.glob("*.partial"))


@needs_model
def test_model_assembled_before_the_table_is_reused_after_one_hash(
    settings: Settings, packaged_model: Path, hashes: list[Path]
) -> None:
    # A file an earlier version assembled (same name, no sidecar) is hashed once, then trusted.
    path = model_path(settings)
    path.parent.mkdir(parents=True)
    shutil.copyfile(packaged_model, path)
    inode = path.stat().st_ino
    assert ensure_model(settings) == path and ensure_model(settings) == path
    assert hashes == [path] and sidecar_path(path).exists()
    assert path.stat().st_ino == inode  # reused, not rewritten


def test_assembly_progress_is_one_line_per_tenth(caplog: pytest.LogCaptureFixture) -> None:
    report = AssemblyLog("Some model")
    total = 300 << 20
    with caplog.at_level(logging.WARNING, logger="service.llm.local"):
        for done in range(4 << 20, total + 1, 4 << 20):  # blocks as the assembly writes them
            report(done, total)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "Assembling Some model: 10% (32 of 300 MB)"
    assert [line.split(": ")[1].split("%")[0] for line in lines] == [
        str(p) for p in range(10, 101, 10)
    ]
    assert lines[-1] == "Assembling Some model: 100% (300 of 300 MB)"


@needs_llama
@needs_model
def test_preparing_the_server_shows_the_first_assembly_on_stderr(tmp_path: Path) -> None:
    # What a CLI command prints while it prepares the server: nothing configures logging, so
    # the warnings reach stderr through logging's last-resort handler.
    script = "from service.config import Settings; from service.llm.local import LocalServer; "
    script += "print(LocalServer(Settings()).prepare())"
    remote = {"OPENAI_BASE_URL", "OPENAI_API_KEY", "READER_LOCAL_MODEL_PATH", "READER_LOCAL_PORT"}
    env = {k: v for k, v in os.environ.items() if k not in remote}
    env["READER_CACHE_DIR"] = str(tmp_path / "cache")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("http://127.0.0.1:")
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"Assembling {DEFAULT_MODEL.title} into ")
    size = DEFAULT_MODEL.size >> 20
    assert f"Assembling {DEFAULT_MODEL.title}: 100% ({size} of {size} MB)" in lines
    assert len(lines) == 11  # the start, then one line per tenth
    assert (tmp_path / "cache" / "models" / DEFAULT_MODEL.file_name).stat().st_size == (
        DEFAULT_MODEL.size
    )


# --- reuse ----------------------------------------------------------------------------------


def test_probe_recognises_only_our_model(
    fake_server: tuple[int, ThreadingHTTPServer],
    foreign_server: tuple[int, ThreadingHTTPServer],
) -> None:
    assert serves_our_model(base_url_for(fake_server[0]))
    assert not serves_our_model(base_url_for(foreign_server[0]))
    assert not serves_our_model(base_url_for(free_port()))


def test_recorded_live_server_is_reused_and_left_running(
    settings: Settings, fake_server: tuple[int, ThreadingHTTPServer]
) -> None:
    port, _ = fake_server
    state_path = settings.cache_dir / "local-server.json"
    ServerState(os.getpid(), port, str(model_path(settings))).write(state_path)
    with LocalServer(settings) as server:
        assert server.base_url == f"http://127.0.0.1:{port}/v1"
        assert not server.owned and server.pid is None
    assert state_path.exists()  # only the starter clears the state and stops the server
    assert serves_our_model(base_url_for(port))


def test_recorded_server_with_dead_pid_is_not_reused(
    settings: Settings, fake_server: tuple[int, ThreadingHTTPServer]
) -> None:
    ServerState(_dead_pid(), fake_server[0], str(model_path(settings))).write(
        settings.cache_dir / "local-server.json"
    )
    assert LocalServer(settings).find_running() is None


def test_recorded_server_for_another_model_file_is_not_reused(
    settings: Settings, fake_server: tuple[int, ThreadingHTTPServer]
) -> None:
    ServerState(os.getpid(), fake_server[0], "/elsewhere/other.gguf").write(
        settings.cache_dir / "local-server.json"
    )
    assert LocalServer(settings).find_running() is None


def test_unreadable_state_file_is_ignored(settings: Settings) -> None:
    (settings.cache_dir / "local-server.json").write_text("{not json", encoding="utf-8")
    assert ServerState.read(settings.cache_dir / "local-server.json") is None
    assert LocalServer(settings).find_running() is None


def test_configured_port_with_our_server_is_reused(
    monkeypatch: pytest.MonkeyPatch, fake_server: tuple[int, ThreadingHTTPServer]
) -> None:
    port, _ = fake_server
    monkeypatch.setenv("READER_LOCAL_PORT", str(port))
    endpoint = resolve_endpoint(Settings())
    assert endpoint.base_url == f"http://127.0.0.1:{port}/v1"
    assert (endpoint.model, endpoint.profile_name) == (LOCAL_MODEL_ALIAS, DEFAULT_MODEL.profile)
    assert endpoint.local_server is not None
    endpoint.close()
    assert serves_our_model(endpoint.base_url)  # not ours to stop


async def test_async_context_manager_reuses(
    settings: Settings, fake_server: tuple[int, ThreadingHTTPServer]
) -> None:
    ServerState(os.getpid(), fake_server[0], str(model_path(settings))).write(
        settings.cache_dir / "local-server.json"
    )
    async with LocalServer(settings) as server:
        assert server.base_url == base_url_for(fake_server[0])


# --- real server ----------------------------------------------------------------------------


@pytest.fixture
def broken_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """READER_LOCAL_MODEL_PATH at a file with the GGUF magic and unusable content: the real
    server starts and exits during start-up."""
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    monkeypatch.setenv("READER_LOCAL_MODEL_PATH", str(broken))
    return broken


@needs_llama
@pytest.mark.usefixtures("broken_model")
def test_server_that_dies_during_startup_reports_log_tail() -> None:
    server = LocalServer(Settings())
    with pytest.raises(LocalServerFailed) as info:
        server.start()
    assert "exited with code" in info.value.message
    assert "local-server.log" in info.value.message
    assert info.value.message.count("\n") >= 2  # the log tail follows
    assert server.pid is None and not (Settings().cache_dir / "local-server.json").exists()


@needs_llama
def test_server_not_ready_in_time_is_stopped_and_reported(
    monkeypatch: pytest.MonkeyPatch, packaged_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("READER_LOCAL_MODEL_PATH", str(packaged_model))
    server = LocalServer(Settings(), ready_timeout_s=0.0)
    with (
        caplog.at_level(logging.INFO, logger="service.llm.local"),
        pytest.raises(LocalServerFailed, match=r"not ready after 0\.0 s") as info,
    ):
        server.start()
    started = [r.getMessage() for r in caplog.records if "Starting" in r.getMessage()]
    assert len(started) == 1  # the model's alias and flags from the table
    assert f"--model {packaged_model} --model_alias {DEFAULT_MODEL.name} " in started[0]
    assert f" --n_ctx {DEFAULT_MODEL.n_ctx} " in started[0] and "--chat_format" not in started[0]
    assert "local-server.log" in info.value.message
    assert server.pid is None and not server.owned
    assert not (Settings().cache_dir / "local-server.json").exists()


@needs_llama
def test_resolving_the_local_endpoint_starts_nothing_until_the_first_request(
    monkeypatch: pytest.MonkeyPatch, packaged_model: Path
) -> None:
    # A run whose every answer is stored must not pay the server's start-up (seconds).
    monkeypatch.setenv("READER_LOCAL_MODEL_PATH", str(packaged_model))
    endpoint = resolve_endpoint(Settings())
    assert endpoint.local_server is not None and endpoint.local_server.pid is None
    assert endpoint.base_url.startswith("http://127.0.0.1:")
    assert not serves_our_model(endpoint.base_url)
    assert not (Settings().cache_dir / "local-server.json").exists()
    endpoint.close()


def test_a_stopped_server_is_never_started_afterwards(settings: Settings) -> None:
    # The run ended (or was cancelled) while its first request was on the way: starting then
    # would leave a server nobody stops.
    server = LocalServer(settings)
    server.stop()
    with pytest.raises(LocalServerFailed, match="ended before"):
        server.start()
    assert server.pid is None and not (settings.cache_dir / "local-server.json").exists()


@pytest.mark.e2e
@needs_llama
def test_sigterm_to_a_run_stops_the_local_server_it_started(
    tmp_path: Path, packaged_model: Path
) -> None:
    doc = tmp_path / "meeting.txt"
    doc.write_text("会议强调，力争年底前开工建设自由电子激光科学装置。\n", encoding="utf-8")
    outside = {*OUTSIDE_VARIABLES, "READER_LOCAL_PORT"}
    env = {k: v for k, v in os.environ.items() if k not in outside}
    env |= {
        "READER_CACHE_DIR": str(tmp_path / "cache"),
        "READER_LOCAL_MODEL_PATH": str(packaged_model),
    }
    state_path = tmp_path / "cache" / "local-server.json"
    out = tmp_path / "site"
    command = [sys.executable, "-m", "service.cli", "run", str(doc), "--out", str(out), "--tasks",
               "translation"]  # fmt: skip
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 300
        state = ServerState.read(state_path)
        while state is None:  # the run has started the server once the state is written
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never started the local server"
            time.sleep(0.2)
            state = ServerState.read(state_path)
        assert pid_alive(state.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated" in err and "resume" in err and "Traceback" not in err
    assert not pid_alive(state.pid) and not state_path.exists()


TRANSLATE = [
    {"role": "system", "content": "Translate the user's Chinese into English. Answer with the "
     "English translation only."},
    {"role": "user", "content": "力争年底前开工建设自由电子激光科学装置。"},
]  # fmt: skip
AS_JSON = [
    {"role": "user", "content": 'Answer with a JSON object {"actor": ..., "year": ...} for: '
     "深圳将在2027年建成新机场。"},
]  # fmt: skip


@pytest.mark.e2e
@needs_llama
def test_real_server_translates_and_answers_in_json_mode(
    monkeypatch: pytest.MonkeyPatch, packaged_model: Path
) -> None:
    monkeypatch.setenv("READER_LOCAL_MODEL_PATH", str(packaged_model))
    settings = Settings()
    with LocalServer(settings) as server:
        assert server.owned and server.base_url is not None
        url = server.base_url
        with LocalServer(settings) as second:  # a second user reuses, does not restart
            assert second.base_url == url and not second.owned
        answer = _chat(url, messages=TRANSLATE, max_tokens=64)
        text = _content(answer).strip()
        assert answer["model"] == LOCAL_MODEL_ALIAS
        assert text and sum(c.isascii() and c.isalpha() for c in text) >= len(text) // 2  # English
        # JSON mode (the profile's structured output): the server constrains the answer to JSON.
        shaped = _chat(
            url, messages=AS_JSON, max_tokens=96, response_format={"type": "json_object"}
        )
        assert isinstance(json.loads(_content(shaped)), dict)
        pid = server.pid
    assert pid is not None and not _alive(pid)
    assert not (settings.cache_dir / "local-server.json").exists()
    assert not serves_our_model(url)


def _chat(base_url: str, **body: object) -> dict[str, Any]:
    payload = {"model": LOCAL_MODEL_ALIAS, "temperature": 0, **body}
    url = f"{base_url}/chat/completions"
    response = httpx.post(url, json=payload, timeout=120, trust_env=False)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _content(answer: dict[str, Any]) -> str:
    return str(answer["choices"][0]["message"]["content"] or "")


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


# --- CLI ------------------------------------------------------------------------------------


def test_cli_local_server_reports_a_running_server(
    settings: Settings, fake_server: tuple[int, ThreadingHTTPServer]
) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    ServerState(os.getpid(), fake_server[0], str(model_path(settings))).write(
        settings.cache_dir / "local-server.json"
    )
    result = CliRunner().invoke(app, ["local-server"])
    assert result.exit_code == 0
    assert f"already running at {base_url_for(fake_server[0])}" in result.stdout


def test_cli_local_server_without_extra_is_one_red_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    result = CliRunner().invoke(app, ["local-server"])
    assert result.exit_code == 1
    assert "pip install 'policy-reader[local]'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


@pytest.mark.e2e
@needs_llama
async def test_the_api_starts_the_local_server_up_front_and_stops_it(
    monkeypatch: pytest.MonkeyPatch, packaged_model: Path
) -> None:
    # Runs start the server lazily; the API must not: /readyz would report a model endpoint
    # that nothing starts until traffic arrives, and orchestrators send none until it is ready.
    from service.api.app import create_app

    monkeypatch.setenv("READER_LOCAL_MODEL_PATH", str(packaged_model))
    settings = Settings()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            ready = (await client.get("/readyz")).json()
        state = ServerState.read(settings.cache_dir / "local-server.json")
        assert state is not None and pid_alive(state.pid)
    assert ready["ready"] and ready["model"]["ok"], ready
    assert ready["model"]["endpoint"] == f"http://127.0.0.1:{state.port}"
    assert not pid_alive(state.pid) and not (settings.cache_dir / "local-server.json").exists()


@needs_llama
def test_a_port_taken_by_our_own_server_meanwhile_is_shared(
    monkeypatch: pytest.MonkeyPatch, packaged_model: Path
) -> None:
    # Two runs with the same READER_LOCAL_PORT both prepare; the second to start finds the
    # first one's server on the port and uses it instead of failing every task.
    port = free_port()
    monkeypatch.setenv("READER_LOCAL_PORT", str(port))
    monkeypatch.setenv("READER_LOCAL_MODEL_PATH", str(packaged_model))
    server = LocalServer(Settings())
    url = server.prepare()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _models_handler(LOCAL_MODEL_ALIAS))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        assert server.start() == url
        assert server.pid is None and not server.owned  # shared, not spawned
    finally:
        httpd.shutdown()
        httpd.server_close()


@needs_llama
def test_stopping_while_the_server_starts_stops_it_at_once(
    monkeypatch: pytest.MonkeyPatch, packaged_model: Path
) -> None:
    # SIGTERM/Ctrl-C cancel the run while its first request is starting the server in a
    # worker thread: stop() must not wait for readiness (up to 60 s) to kill it.
    monkeypatch.setenv("READER_LOCAL_MODEL_PATH", str(packaged_model))
    server = LocalServer(Settings())
    errors: list[BaseException] = []

    def start() -> None:
        try:
            server.start()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=start)
    thread.start()
    deadline = time.monotonic() + 30
    while server.pid is None and thread.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pid = server.pid
    started = time.monotonic()
    server.stop()
    thread.join(timeout=30)
    assert time.monotonic() - started < 15
    assert pid is not None and not pid_alive(pid)
    assert len(errors) == 1 and isinstance(errors[0], LocalServerFailed)
    assert "while the local model server was starting" in str(errors[0])
    assert not (Settings().cache_dir / "local-server.json").exists()


@needs_llama
@pytest.mark.usefixtures("broken_model")
def test_a_run_whose_model_server_cannot_start_fails_and_writes_no_site(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    doc = tmp_path / "meeting.txt"
    doc.write_text("会议强调，力争年底前开工建设自由电子激光科学装置。\n", encoding="utf-8")
    site = tmp_path / "site"
    result = CliRunner().invoke(app, ["run", str(doc), "--out", str(site)])
    assert result.exit_code == 1
    assert "exited with code" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and not (site / "index.md").exists()
