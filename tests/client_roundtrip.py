"""A client generated from /openapi.json by openapi-python-client, used as a new user would.

Run by tests/test_api_client.py in the generator's own environment, with the generated package
``reader_client`` importable: ``python client_roundtrip.py BASE_URL API_KEY FILE``. Uploads the
file, starts its summary, polls the job until it ends and reads the summary; prints what it
got as one JSON line. Anything off raises (exit status 1).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

from reader_client import AuthenticatedClient
from reader_client.api.artifacts import compute_summary, read_summary
from reader_client.api.documents import add_document
from reader_client.api.jobs import get_job
from reader_client.models import AddDocumentFilesBody, DocumentOut, JobOut, SummaryArtifact
from reader_client.types import File

POLL_S = 0.1
DEADLINE_S = 60.0
SOURCE_URL = "https://www.gov.cn/zhengce/example.html"


def upload(api: AuthenticatedClient, path: Path) -> DocumentOut:
    with path.open("rb") as payload:
        body = AddDocumentFilesBody(
            file=File(payload=payload, file_name=path.name, mime_type="text/plain"),
            source_url=SOURCE_URL,
            published=dt.date(2021, 10, 27),
        )
        added = add_document.sync(client=api, body=body)
    assert isinstance(added, DocumentOut), added
    return added


def finished_job(api: AuthenticatedClient, doc_id: str) -> JobOut:
    job = compute_summary.sync(doc_id, client=api)
    assert isinstance(job, JobOut), job
    deadline = time.monotonic() + DEADLINE_S
    while job.status not in ("done", "failed"):
        assert time.monotonic() < deadline, f"job {job.id} still {job.status}"
        time.sleep(POLL_S)
        polled = get_job.sync(job.id, client=api)
        assert isinstance(polled, JobOut), polled
        job = polled
    return job


def main(base_url: str, key: str, path: Path) -> None:
    api = AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True)
    with api:
        doc = upload(api, path)
        job = finished_job(api, doc.id)
        summary = read_summary.sync(doc.id, client=api)
    assert isinstance(summary, SummaryArtifact), summary
    report = {
        "doc_id": doc.id,
        "source_url": doc.meta.source_url,
        "job_status": str(job.status),
        "job_artifact": job.artifact,
        "summary_doc_id": summary.doc_id,
        "summary_status": str(summary.status),
        "summary": summary.to_dict()["summary"],
    }
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
