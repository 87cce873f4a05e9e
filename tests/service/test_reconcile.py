"""`reconcile` repairs SQL/vector disagreement: orphan vectors go, missing vectors come back."""

import json
import os
import subprocess
import sys

import factories as F
import numpy as np
from conftest import ingest_file

from core.models import DEFAULT_TENANT_ID
from ingest.reconcile import reconcile


def test_orphan_vectors_are_removed_and_missing_ones_restored(runtime, tmp_path):
    doc = ingest_file(runtime, F.write(tmp_path, "p.md", ("# Keys\n\n" + "\n\n".join(F.PARAS * 6)).encode()))
    ids = runtime.vectors.ids(DEFAULT_TENANT_ID, document_id=doc["document_id"])
    assert len(ids) == doc["chunk_count"] >= 2
    # a crash after the vector write and before the SQL commit leaves vectors nobody owns
    orphan_vec = runtime.embedder.embed(["orphan from a crashed job"])
    runtime.vectors.upsert(DEFAULT_TENANT_ID, ["orphan-1"], orphan_vec, [{"document_id": "ghost"}])
    # and a vector lost behind the app's back leaves an indexed document short of vectors
    lost = sorted(ids)[0]
    runtime.vectors.delete(DEFAULT_TENANT_ID, [lost])

    dry = reconcile(runtime, dry_run=True)
    assert dry.orphan_vectors == 1 and dry.documents_missing_vectors == [doc["document_id"]]
    assert "orphan-1" in runtime.vectors.ids(DEFAULT_TENANT_ID)  # dry run changes nothing

    report = reconcile(runtime)
    assert report.orphans_deleted == 1 and report.vectors_restored == 1
    assert runtime.vectors.ids(DEFAULT_TENANT_ID) == ids
    again = reconcile(runtime)
    assert again.orphan_vectors == 0 and again.documents_missing_vectors == []
    # the restored vector is the same embedding of the same stored text
    col = runtime.vectors._collection(DEFAULT_TENANT_ID)
    got = col.get(ids=[lost], include=["embeddings", "metadatas"])
    assert got["metadatas"][0]["document_id"] == doc["document_id"]
    assert np.asarray(got["embeddings"][0]).shape == (384,)


def test_reconcile_command_prints_a_json_report(migrated_settings):
    env = {**os.environ, "CLAUSEWISE_DATA_DIR": str(migrated_settings.data_dir)}
    r = subprocess.run([sys.executable, "-m", "api.cli", "reconcile", "--dry-run"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["dry_run"] is True and out["orphan_vectors"] == 0 and out["tenants"] == 1


def test_ingest_command_prints_each_document_id_and_status(tmp_path):
    data = tmp_path / "data"
    files = [F.write(tmp_path, "policy.md", b"# AI policy\n\nModels are reviewed before release.\n"),
             F.write(tmp_path, "scan.pdf", F.image_only_pdf()),
             F.write(tmp_path, "junk.txt", bytes(range(256)) * 8)]
    env = {**os.environ, "CLAUSEWISE_DATA_DIR": str(data)}
    r = subprocess.run([sys.executable, "-m", "api.cli", "ingest", "--json", *map(str, files)], env=env,
                       capture_output=True, text=True, timeout=300)
    rows = {os.path.basename(row["file"]): row for row in map(json.loads, r.stdout.strip().splitlines())}
    assert rows["policy.md"]["status"] == "indexed" and len(rows["policy.md"]["document_id"]) == 36
    assert rows["scan.pdf"]["status"] == "failed" and rows["scan.pdf"]["error_code"] == "no_text_layer"
    assert rows["junk.txt"]["status"] == "rejected" and rows["junk.txt"]["error_code"] == "unsupported_media_type"
    assert r.returncode == 1, "failures make the command exit non-zero"
