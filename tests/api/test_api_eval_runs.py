"""Evaluation runs over HTTP: a background job with progress, stored and listable."""

import time


def test_eval_run_job_over_http(eager_client):
    r = eager_client.post("/v1/eval-runs", json={"dataset": "no-evidence"})
    assert r.status_code == 202, r.text
    run_id = r.json()["eval_run_id"]
    deadline = time.time() + 300
    while True:
        body = eager_client.get(f"/v1/eval-runs/{run_id}").json()
        if body["state"] in ("done", "failed"):
            break
        assert time.time() < deadline
        time.sleep(0.5)
    assert body["state"] == "done" and body["percent"] == 100, body.get("error")
    assert len(body["dataset_sha256"]) == 64 and body["classifier_version"].startswith("clf-1|")
    assert body["result"]["dataset"]["items"] == 12
    # a set of texts that evidence nothing has nothing to rank, and nothing is confidently suggested
    assert all(m["n"] == 0 for m in body["frameworks"].values())
    listed = eager_client.get("/v1/eval-runs").json()
    assert listed["total"] == 1 and listed["items"][0]["eval_run_id"] == run_id


def test_unknown_dataset_is_refused(eager_client):
    r = eager_client.post("/v1/eval-runs", json={"dataset": "../../etc/passwd"})
    assert r.status_code == 404 and r.json()["error_code"] == "dataset_not_found"
    assert {"evidence-dev", "files", "files2", "files3"} <= set(r.json()["known"])
    for traversal in ("files/../evidence-dev", "files/manifest", "/etc/passwd"):
        bad = eager_client.post("/v1/eval-runs", json={"dataset": traversal})
        assert bad.status_code == 404 and bad.json()["error_code"] == "dataset_not_found"
    missing = eager_client.get("/v1/eval-runs/nope")
    assert missing.status_code == 404 and missing.json()["error_code"] == "eval_run_not_found"
