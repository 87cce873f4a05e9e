"""The NHI inventory through the real pipeline: identities merged across documents, no duplicates when a document
is processed again, the API's shape and filters, and no secret value in any store after uploading evidence that
holds AWS keys, GitHub tokens, private keys and passwords in URLs."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from conftest import FIXTURES, ingest_file

pytestmark = pytest.mark.needs_model
FILES2 = FIXTURES.parent / "files2"
# secret values written here only; each must be absent from every store after ingestion
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq9Lz7Xk1Q"
GITHUB_TOKEN = "ghp_" + "R3aLt0kEnV4lu3xYz" + "0123456789abcdefghij"
URL_PASSWORD = "Tr0ub4dor&3horse"
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
SECRETS = (AWS_SECRET, GITHUB_TOKEN, URL_PASSWORD, PEM_BODY)
LEAKY = f"""2026-02-03T10:15:00Z deploy-bot INFO exporting AWS_ACCESS_KEY_ID=AKIAIOSFODNN7LEAKY01 \
aws_secret_access_key={AWS_SECRET}
2026-02-03T10:15:02Z deploy-bot INFO cloning https://ci-bot:{URL_PASSWORD}@git.example.test/org/repo.git
2026-02-03T10:15:03Z deploy-bot INFO using token {GITHUB_TOKEN} for the release
2026-02-03T10:15:04Z deploy-bot INFO key material follows
-----BEGIN PRIVATE KEY-----
{PEM_BODY}
Zq3lN4vQ8u7mY2xK9pL0sT6wB1cD5eF3gH7jR2kM4nP8qS0tV6xZ9aC3bE5dG7hJ
-----END PRIVATE KEY-----
2026-02-03T10:15:05Z deploy-bot INFO done
"""


def _inventory(rt):
    from core.models import DEFAULT_TENANT_ID
    from ingest.nhi import inventory
    return inventory.inventory(rt.db, DEFAULT_TENANT_ID, page_size=1000)


def test_identities_merge_and_reprocessing_never_duplicates(runtime):
    from core.models import DEFAULT_TENANT_ID, NhiSighting
    from worker.jobs import run_ingest_job

    cloudtrail = FILES2 / "cloudtrail_lookup-events_tm-keel-prod_iam-secretsmanager_2026-01-12_16.json"
    k8s = FILES2 / "keel-prod-euw1_kube-apiserver-audit_2026-02-03.jsonl"
    auth = FILES2 / "sftp-claims-ingest-01_auth.log"
    docs = [ingest_file(runtime, p) for p in (cloudtrail, k8s, auth)]
    assert all(d["status"] == "indexed" for d in docs)
    inv = _inventory(runtime)
    assert set(inv) >= {"items", "total", "page", "page_size"} and inv["total"] == len(inv["items"]) > 5
    for it in inv["items"]:
        assert set(it) >= {"id", "identity", "aliases", "kind", "provider", "first_seen", "last_seen",
                           "credential_events", "owner", "documents", "observations"}
        assert it["documents"] and all(d["document_id"] and d["filename"] for d in it["documents"])
        assert all(o["risk"].startswith("NHI") and o["rule"] for o in it["observations"])
    kinds = {it["kind"] for it in inv["items"]}
    assert {"aws_iam_role", "k8s_service_account", "unix_service_account"} <= kinds
    roles = [it for it in inv["items"] if it["kind"] == "aws_iam_role"]
    assert all(it["identity"].startswith("arn:aws:iam::") and ":role/" in it["identity"] for it in roles)
    # an assumed-role session is its role, not another identity
    assert not any(":assumed-role/" in it["identity"] for it in inv["items"])
    ids = sorted(it["id"] for it in inv["items"])
    with runtime.db.session() as s:
        before = s.query(NhiSighting).filter_by(tenant_id=DEFAULT_TENANT_ID).count()

    # the same bytes again: a duplicate, no new identity; the job run again (a redelivery, a fix): replaced
    again = ingest_file(runtime, cloudtrail)
    assert again["document_id"] == docs[0]["document_id"]
    from core.models import Job
    with runtime.db.session() as s:
        job_id = s.query(Job.id).filter_by(document_id=docs[0]["document_id"]).scalar()
    run_ingest_job(runtime, docs[0]["document_id"], job_id)
    with runtime.db.session() as s:
        assert s.query(NhiSighting).filter_by(tenant_id=DEFAULT_TENANT_ID).count() == before
    assert sorted(it["id"] for it in _inventory(runtime)["items"]) == ids

    # one identity's evidence trail points at records and lines
    from ingest.nhi import inventory
    one = inventory.identity(runtime.db, DEFAULT_TENANT_ID, roles[0]["id"])
    assert one["trail"] and all(t["document_id"] and (t["record"] is not None or t["line_start"])
                                for t in one["trail"])


def test_no_secret_value_in_any_store(runtime, tmp_path, caplog):
    from core.models import DEFAULT_TENANT_ID
    from ingest.nhi import inventory
    from review import exports

    caplog.set_level(logging.DEBUG)
    path = tmp_path / "deploy-bot_2026-02-03.log"
    path.write_text(LEAKY)
    doc = ingest_file(runtime, path)
    assert doc["status"] == "indexed", doc
    # the evidence still says a secret was there, where, and of which kind
    with runtime.db.session() as s:
        from core.models import Document
        meta = s.get(Document, doc["document_id"]).meta
    kinds = {f["type"] for f in meta["secrets"]}
    assert {"aws_secret_key", "url_password", "github_token", "private_key"} <= kinds, kinds
    assert all(f["line"] or f["line_in_block"] for f in meta["secrets"])
    inv = inventory.inventory(runtime.db, DEFAULT_TENANT_ID, page_size=1000)
    nhi2 = [o for it in inv["items"] for o in it["observations"] if o["risk"] == "NHI2"]
    assert nhi2 or inv["unattributed_secrets"]
    # every store: the SQL database (every table), the vector store's files, the logs, the exports
    settings = runtime.settings
    db_dump = "\n".join(sqlite3.connect(settings.data_dir / "clausewise.db").iterdump())
    vector_bytes = b"".join(p.read_bytes() for p in Path(settings.data_dir).rglob("*")
                            if p.is_file() and "chroma" in str(p).lower())
    assert vector_bytes, "the vector store's files were found"
    from api.routes.nhi import to_csv
    from catalog import load_catalog
    from review.coverage import confirmed_mappings
    rows = confirmed_mappings(db=runtime.db, catalog=load_catalog(), tenant_id=DEFAULT_TENANT_ID)
    outputs = [db_dump, caplog.text, json.dumps(inv), to_csv(inv["items"]), exports.to_csv(rows)]
    for secret in SECRETS:
        assert secret.encode() not in vector_bytes, secret[:6]
        for out in outputs:
            assert secret not in out, secret[:6]
    assert "[REDACTED:aws_secret_key]" in db_dump
