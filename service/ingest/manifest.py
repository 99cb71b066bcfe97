"""``corpus/manifest.toml``: human-checked metadata per raw file name."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

from pydantic import BaseModel, ValidationError

from service.errors import ConfigError
from service.models import Script

MANIFEST_NAME = "manifest.toml"


class ManifestEntry(BaseModel):
    """One ``[files."<name>"]`` table; every field optional."""

    title_zh: str | None = None
    title_en: str | None = None
    date: dt.date | None = None
    year: int | None = None
    outlet: str | None = None
    place: str | None = None
    doc_type: str | None = None
    script: Script | None = None
    source_url: str | None = None
    notes: str | None = None


Manifest = dict[str, ManifestEntry]


def load_manifest(path: Path) -> Manifest:
    """Read a manifest file; a missing file is an empty manifest, a broken one an error."""
    if not path.is_file():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        files = raw.get("files", {})
        return {name: ManifestEntry.model_validate(entry) for name, entry in files.items()}
    except (tomllib.TOMLDecodeError, ValidationError, AttributeError) as exc:
        raise ConfigError(f"{path}: invalid manifest ({exc}); fix the file.") from None


def manifest_for(path: Path, corpus_dir: Path) -> Manifest:
    """The manifest beside ``path`` if there is one, else the corpus manifest."""
    beside = path.parent / MANIFEST_NAME
    return load_manifest(beside if beside.is_file() else corpus_dir / MANIFEST_NAME)
