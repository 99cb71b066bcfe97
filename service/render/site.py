"""Write the Markdown site and JSON export for a corpus into one folder.

``render_site`` is pure (bundles in, ``{relative path: text}`` out); ``write_site`` only writes
those files. The folder is the ``docs_dir`` of an mkdocs project: ``mkdocs_config`` renders
the ``mkdocs.yml`` that sits *outside* it (mkdocs refuses a docs_dir that is the config's own
folder or holds it), as the repo-level ``mkdocs.yml`` does for the default ``site/``;
``write_mkdocs`` writes one where it is asked to, never by default.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from service.checks.glossary import matching_form
from service.errors import InputError, ServiceError
from service.render.bundle import DocumentBundle
from service.render.document import document_page
from service.render.export import document_export, dumps, index_export
from service.render.markdown import (
    commitments_page,
    data_path,
    glossary_page,
    index_page,
    page_path,
)
from service.render.targets import targets_page
from service.render.tracker import TRACKER_PATH, entity_page, entity_path, tracker_page
from service.targets.series import SeriesTable, from_document, series_tables
from service.tasks.commitments.tracker import Tracker, build_tracker

TRACKER_DATA = "data/tracker.json"


class SiteReport(BaseModel):
    files: list[Path]


def render_site(
    bundles: Sequence[DocumentBundle],
    *,
    glossary_terms: Sequence[tuple[str, str, str]] | None = None,
    generated_at: dt.datetime,
    reader_version: str,
) -> dict[str, str]:
    """Every file of the site, keyed by its path relative to the site root."""
    _check_unique(bundles)
    when, version = generated_at, reader_version
    tables = corpus_targets(bundles)
    tracker = site_tracker(bundles, glossary_terms or ())
    pages = [("Promise tracker", TRACKER_PATH)]
    pages += [("Targets over time", "targets.md")] if tables else []
    files = {
        "index.md": index_page(bundles, generated_at=when, reader_version=version, pages=pages),
        "commitments.md": commitments_page(bundles),
        "glossary.md": glossary_page(glossary_terms),
        "data/index.json": dumps(index_export(bundles, generated_at=when, reader_version=version)),
    }
    if tables:
        files["targets.md"] = targets_page(tables)
    files |= tracker_files(tracker)
    for b in bundles:
        doc_id = b.document.id
        files[page_path(doc_id)] = document_page(
            b, generated_at=when, reader_version=version, tracker=tracker
        )
        export = document_export(b, generated_at=when, reader_version=version)
        files[data_path(doc_id)] = dumps(export)
    return dict(sorted(files.items()))


def corpus_targets(bundles: Sequence[DocumentBundle]) -> list[SeriesTable]:
    """Targets over time for every series in the corpus (none when no series sets any)."""
    return series_tables(from_document(b.document, link=page_path(b.document.id)) for b in bundles)


def site_tracker(
    bundles: Sequence[DocumentBundle], glossary_terms: Sequence[tuple[str, str, str]]
) -> Tracker:
    """The tracker of the bundles' commitments, entity names from the corpus's glossary terms."""
    corpus = [(b.document, b.commitments) for b in bundles if b.commitments is not None]
    names = {matching_form(zh): en for zh, en, _ in glossary_terms}
    translations = {b.document.id: b.translation for b in bundles if b.translation is not None}
    return build_tracker(corpus, names, translations)


def tracker_files(tracker: Tracker) -> dict[str, str]:
    """``tracker.md``, one page per entity and ``data/tracker.json``."""
    files = {
        TRACKER_PATH: tracker_page(tracker),
        TRACKER_DATA: dumps(tracker.model_dump(mode="json")),
    }
    return files | {entity_path(e): entity_page(tracker, e) for e in tracker.entities}


def _check_unique(bundles: Sequence[DocumentBundle]) -> None:
    seen: set[str] = set()
    for b in bundles:
        if page_path(b.document.id) in seen:
            raise InputError(f"document {b.document.id} appears twice: pass one bundle each")
        seen.add(page_path(b.document.id))


def write_site(
    bundles: list[DocumentBundle],
    out: Path,
    *,
    glossary_terms: list[tuple[str, str, str]] | None = None,
    generated_at: dt.datetime,
    reader_version: str,
) -> SiteReport:
    """Render the corpus into ``out`` (overwriting same-named files) and list what was written.

    Files of documents no longer in ``bundles`` are not deleted: write into a fresh folder to
    publish a smaller corpus.
    """
    files = render_site(
        bundles,
        glossary_terms=glossary_terms,
        generated_at=generated_at,
        reader_version=reader_version,
    )
    return SiteReport(files=[_write(out / rel, content) for rel, content in files.items()])


def _write(path: Path, content: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8"))  # bytes: no platform newline rewriting
    except OSError as exc:
        message = f"cannot write {path}: {exc.strerror}; check the output folder"
        raise SiteWriteError(message) from exc
    return path


class SiteWriteError(ServiceError):
    code = "site_write_failed"


def mkdocs_config(
    docs_dir: str = "site", site_dir: str = "build/site", site_name: str = "Policy Reader"
) -> str:
    """``mkdocs.yml`` for a site written by ``write_site`` into ``docs_dir`` (relative to it).

    Strict, with link and anchor validation, so a broken link fails ``mkdocs build``; no
    directory URLs, so the built HTML also works opened from disk.
    """
    # JSON strings are valid YAML scalars, whatever characters the names contain.
    name, docs, out = json.dumps(site_name), json.dumps(docs_dir), json.dumps(site_dir)
    return (
        "# Rendered by service.render.site.mkdocs_config(); `mkdocs build` turns the folder\n"
        "# written by `service.render.write_site` into browsable HTML.\n"
        f"site_name: {name}\n"
        f"docs_dir: {docs}\n"
        f"site_dir: {out}\n"
        "use_directory_urls: false\n"
        "strict: true\n"
        "validation:\n"
        "  omitted_files: warn\n"
        "  absolute_links: warn\n"
        "  unrecognized_links: warn\n"
        "  anchors: warn\n"
    )


def write_mkdocs(config: Path, site: Path) -> Path:
    """Write ``config``, an ``mkdocs.yml`` that builds the site written into ``site``."""
    text = mkdocs_config(
        docs_dir=mkdocs_docs_dir(config, site), site_dir=f"build/{site.resolve().name}"
    )
    return _write(config, text)


def mkdocs_docs_dir(config: Path, site: Path) -> str:
    """``site`` relative to the folder of ``config``, as mkdocs reads ``docs_dir``.

    mkdocs refuses a docs_dir that is the config's folder or one of its parents (its
    ``DocsDir`` and ``SiteDir`` checks), so a config inside ``site`` is an input error.
    """
    folder, where = site.resolve(), config.resolve().parent
    if where == folder or folder in where.parents:
        raise InputError(
            f"{config}: mkdocs cannot use a config inside the site folder {site}; "
            "write the mkdocs.yml outside it (e.g. beside it)"
        )
    return Path(os.path.relpath(folder, where)).as_posix()
