"""Record splitting for ticket and log exports (ingest/records.py), checked against the evidence fixtures.

Expected values (counts, keys, timestamps, line ranges) are computed here from the fixture files with the
standard library, independently of the code under test.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest import records
from ingest.records import Block, RecordStream, split_records

EVIDENCE = Path(__file__).parents[2] / "eval" / "datasets" / "files"

JSON = "application/json"
JSONL = "application/x-ndjson"
CSV = "text/csv"
TEXT = "text/plain"


def load(name: str) -> str:
    """The file's text as the partitioner hands it over: newlines normalised, BOM removed."""
    text = (EVIDENCE / name).read_bytes().decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def iso(s: str) -> datetime:
    """Independent timestamp parser (3.11's fromisoformat takes Z, +0000 and 7-digit fractions)."""
    dt = datetime.fromisoformat(s)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def lines_of(text: str) -> list[str]:
    return text.split("\n")


@pytest.fixture
def pinned_now(monkeypatch):
    """Pin 'now' (used to infer the year of RFC 3164 syslog timestamps)."""
    def pin(dt: datetime) -> None:
        monkeypatch.setattr(records, "_utcnow", lambda: dt)
    pin(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    return pin


# ------------------------------------------------------------------------------------------------------------
# Jira

@pytest.mark.parametrize("name", [
    "jira_KHA-1187_scribe-asr_group_retest.json",
    "jira_MLP-2291_merlin-trs_3.3.0_promotion.json",
    "jira_SECOPS-842_rotate_transcription_sp_secret.json",
])
def test_jira_single_issue_v2(name):
    raw = json.loads(load(name))
    fields = raw["fields"]
    rs = split_records(load(name), JSON)

    assert isinstance(rs, RecordStream) and rs.kind == "jira"
    assert len(rs.blocks) == 1
    b = rs.blocks[0]
    assert b.kind == "record" and b.section == raw["key"] and b.record_index == 0
    assert (b.line_start, b.line_end) == (1, len(lines_of(load(name).rstrip("\n"))))
    for expected in (raw["key"], fields["summary"], fields["status"]["name"], fields["issuetype"]["name"],
                     fields["priority"]["name"], *fields["labels"]):
        assert expected in b.text
    # wiki markup is made readable: {{monospace}} markers are gone
    assert "{{" not in b.text
    # every comment, with its author
    comments = fields["comment"]["comments"]
    assert comments
    for c in comments:
        assert c["author"]["displayName"] in b.text
        first_words = " ".join(c["body"].split()[:5]).replace("{{", "").replace("}}", "").replace("*", "")
        assert first_words in b.text
    # compact status transitions from the changelog
    for h in raw["changelog"]["histories"]:
        for item in h["items"]:
            if item["field"] == "status":
                assert f"{item['fromString']} -> {item['toString']}" in b.text
    # time range: created .. latest of updated / resolved / comment
    stamps = [iso(fields["created"]), iso(fields["updated"])]
    if fields.get("resolutiondate"):
        stamps.append(iso(fields["resolutiondate"]))
    stamps += [iso(c["created"]) for c in comments]
    stamps += [iso(h["created"]) for h in raw["changelog"]["histories"]]
    assert b.ts_start == iso(fields["created"])
    assert b.ts_end == max(stamps)
    assert b.meta["status"] == fields["status"]["name"]


def test_jira_named_custom_fields_and_mentions():
    raw = json.loads(load("jira_MLP-2291_merlin-trs_3.3.0_promotion.json"))
    text = split_records(load("jira_MLP-2291_merlin-trs_3.3.0_promotion.json"), JSON).blocks[0].text
    # custom fields are rendered under their display names from `names`
    assert f"{raw['names']['customfield_10115']}: {raw['fields']['customfield_10115']}" in text
    assert "customfield_10115" not in text
    # [~accountid:...] mentions are resolved to the display name of a user seen in the export
    assert "Independent validator: @Wei Chen" in text
    # noise is dropped
    assert "gravatar" not in text and "/rest/api/" not in text


def test_jira_search_result_v3_adf():
    text = load("jira_search_MLP_drift_triage_2026Q1.json")
    raw = json.loads(text)
    rs = split_records(text, JSON)

    assert rs.kind == "jira"
    assert len(rs.blocks) == len(raw["issues"])
    assert [b.section for b in rs.blocks] == [i["key"] for i in raw["issues"]]
    assert [b.record_index for b in rs.blocks] == list(range(len(raw["issues"])))
    by_key = {b.section: b for b in rs.blocks}

    first = by_key["MLP-2410"].text
    # ADF paragraph with marks, codeBlock and a comment body survive as plain text
    assert "Lookout raised a red drift alert at 06:58 UTC for merlin-trs v14, site D." in first
    assert "monitor=merlin-input-drift site=D feature=resp_rate window=24h psi=0.27" in first
    assert "Respiratory rates look halved." in first
    # ADF table rows are kept, cell by cell
    assert "2026-01-27 | 0.068 | 20.2% | 29.9%" in by_key["MLP-2440"].text
    for b in rs.blocks:
        assert '"type"' not in b.text and "'type'" not in b.text      # no raw ADF JSON leaks through

    src = lines_of(text)
    for b, issue in zip(rs.blocks, raw["issues"]):
        f = issue["fields"]
        assert f["summary"] in b.text
        # the line range covers exactly this issue object of the search result
        chunk = "\n".join(src[b.line_start - 1:b.line_end]).strip().rstrip(",")
        assert json.loads(chunk)["key"] == issue["key"]
        stamps = [iso(f["created"]), iso(f["updated"])]
        stamps += [iso(c["created"]) for c in f["comment"]["comments"]]
        if f.get("resolutiondate"):
            stamps.append(iso(f["resolutiondate"]))
        assert b.ts_start == iso(f["created"]) and b.ts_end == max(stamps)


# ------------------------------------------------------------------------------------------------------------
# GitHub

def test_github_issue():
    name = "github_aerie-infra_issue_318_stale_workload_identity.json"
    raw = json.loads(load(name))
    rs = split_records(load(name), JSON)

    assert rs.kind == "github_issue"
    assert all(b.kind == "record" for b in rs.blocks)
    text = "\n".join(b.text for b in rs.blocks)
    assert raw["title"] in text and raw["state"] in text
    for label in raw["labels"]:
        assert label["name"] in text
    assert "nhi-inventory" in text and "STALE,WRITE_PHI" in text      # markdown body incl. code block
    assert "<details>" not in text and "<summary>" not in text
    for c in raw["comments"]:
        assert c["author"]["login"] in text
        assert c["body"].split("\n")[0][:60] in text
    assert rs.blocks[0].section == f"aerie-infra#{raw['number']}"
    stamps = [iso(raw["createdAt"]), iso(raw["closedAt"]), iso(raw["updatedAt"])]
    stamps += [iso(c["createdAt"]) for c in raw["comments"]]
    assert min(b.ts_start for b in rs.blocks) == iso(raw["createdAt"])
    assert max(b.ts_end for b in rs.blocks) == max(stamps)


# ------------------------------------------------------------------------------------------------------------
# ServiceNow CSV

def test_servicenow_bom_multiline_journal():
    name = "servicenow_sc_req_item_PHI_training_data_access_2025H2.csv"
    raw_bytes = (EVIDENCE / name).read_bytes()
    assert raw_bytes.startswith(b"\xef\xbb\xbf")                      # the fixture really has a BOM
    raw_text = raw_bytes.decode("utf-8")                              # BOM kept: split_records must strip it
    rows = list(csv.DictReader(io.StringIO(raw_text.lstrip("\ufeff"), newline="")))
    assert "Number" in rows[0]

    rs = split_records(raw_text.replace("\r\n", "\n"), CSV)
    assert rs.kind == "servicenow"
    assert len(rs.blocks) == len(rows)
    assert [b.section for b in rs.blocks] == [r["Number"] for r in rows]
    for b in rs.blocks:
        assert b.kind == "record"
        assert b.text.startswith("Number: RITM")                     # BOM gone from the first column name
        assert "\ufeff" not in b.text
    first = rs.blocks[0].text
    # quoted multi-line journal text is kept, line breaks included
    assert "(Work notes)\nPrerequisites checked: DP-100 completed 2025-06-16." in first
    assert "DPO approval. Purpose consistent with DPIA-007 (Merlin development)." in first
    assert "Requested for: Ruth Adebayo" in first

    src = lines_of(load(name))
    for b, row in zip(rs.blocks, rows):
        # rows span exactly their source lines (multi-line rows included)
        assert src[b.line_start - 1].startswith(f'"{row["Number"]}"')
        assert src[b.line_end - 1].endswith(f'"{row["Closed"]}"')
        opened = datetime.strptime(row["Opened"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        closed = datetime.strptime(row["Closed"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert (b.ts_start, b.ts_end) == (opened, closed)
    assert rs.blocks[0].line_start == 2 and rs.blocks[-1].line_end == len(load(name).rstrip("\n").split("\n"))

    # raw CRLF input gives the same records
    rs_crlf = split_records(raw_text, CSV)
    assert [b.section for b in rs_crlf.blocks] == [b.section for b in rs.blocks]
    assert rs_crlf.blocks[0].text == first


def test_servicenow_change_requests():
    name = "servicenow_change_request_export_2025-08_2026-02.csv"
    rows = list(csv.DictReader(io.StringIO(load(name), newline="")))
    rs = split_records(load(name), CSV)

    assert rs.kind == "servicenow"
    assert len(rs.blocks) == len(rows)
    assert [b.section for b in rs.blocks] == [r["number"] for r in rows]
    date_cols = ["cab_date", "start_date", "end_date", "work_start", "work_end"]
    for b, row in zip(rs.blocks, rows):
        assert f"short_description: {row['short_description']}" in b.text
        assert row["close_notes"] in b.text
        # values may carry a note after the date, e.g. "2026-02-11 (retrospective ECAB)"
        stamps = [iso(re.match(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?", row[c]).group(0))
                  for c in date_cols if row[c]]
        assert (b.ts_start, b.ts_end) == (min(stamps), max(stamps))
        assert b.meta["state"] == row["state"]
    # empty fields are left out ("field: value" lines only for non-empty values)
    no_cab = next(b for b, r in zip(rs.blocks, rows) if not r["cab_date"])
    assert "cab_date:" not in no_cab.text


def test_plain_csv_is_not_servicenow():
    text = "name,team,last_login\nalice,platform,2026-01-02\nbob,data,2026-01-03\n"
    assert split_records(text, CSV) is None


# ------------------------------------------------------------------------------------------------------------
# Cloud audit logs (pretty-printed JSON arrays)

@pytest.mark.parametrize("name,kind,ts_field", [
    ("gcp_audit_iam_kha-mlp-prod_2025-11.json", "gcp_audit", "timestamp"),
    ("azure_activity_log_rg-scribe-prod-uks_2025-10-14.json", "azure_activity", "eventTimestamp"),
])
def test_cloud_json_arrays(name, kind, ts_field):
    text = load(name)
    raw = json.loads(text)
    rs = split_records(text, JSON)

    assert rs.kind == kind
    assert len(rs.blocks) == len(raw)
    assert sorted(b.record_index for b in rs.blocks) == list(range(len(raw)))
    assert all(b.kind == "event" for b in rs.blocks)
    # laid out chronologically; record_index keeps the position in the (newest-first) file
    ts = [b.ts_start for b in rs.blocks]
    assert ts == sorted(ts)
    file_ts = [iso(e[ts_field]) for e in raw]
    assert (ts[0], ts[-1]) == (min(file_ts), max(file_ts))
    src = lines_of(text)
    for b in rs.blocks:
        entry = raw[b.record_index]
        assert b.ts_start == b.ts_end == iso(entry[ts_field])
        # line range = exactly the pretty-printed element
        chunk = "\n".join(src[b.line_start - 1:b.line_end]).strip().rstrip(",")
        assert json.loads(chunk) == entry


def test_gcp_audit_content():
    raw = json.loads(load("gcp_audit_iam_kha-mlp-prod_2025-11.json"))
    rs = split_records(load("gcp_audit_iam_kha-mlp-prod_2025-11.json"), JSON)
    by_index = {b.record_index: b for b in rs.blocks}
    for i, e in enumerate(raw):
        p = e["protoPayload"]
        b = by_index[i]
        assert p["methodName"] in b.text and b.section == p["methodName"]
        assert p["authenticationInfo"]["principalEmail"] in b.text
        assert b.meta["principal"] == p["authenticationInfo"]["principalEmail"]
        for d in (p.get("serviceData") or {}).get("policyDelta", {}).get("bindingDeltas", []):
            assert f"{d['action']} {d['role']} {d['member']}" in b.text
        if p.get("status"):
            assert p["status"]["message"] in b.text
    # protobuf timestamps become dates: the non-expiring key is visible as such
    assert any("valid_before_time=9999-12-31" in b.text for b in rs.blocks)


def test_azure_activity_content():
    raw = json.loads(load("azure_activity_log_rg-scribe-prod-uks_2025-10-14.json"))
    rs = split_records(load("azure_activity_log_rg-scribe-prod-uks_2025-10-14.json"), JSON)
    for b in rs.blocks:
        e = raw[b.record_index]
        assert e["operationName"]["localizedValue"] in b.text
        assert e["caller"] in b.text
        assert "/subscriptions/" not in b.text                      # resource ids shortened
    text = "\n".join(b.text for b in rs.blocks)
    assert 'roleDefinitionId="Storage Blob Data Contributor"' in text  # built-in role GUIDs resolved
    assert "allowSharedKeyAccess=false" in text                         # request bodies summarised


def test_cloudtrail_records():
    doc = {"Records": [
        {"eventTime": "2026-01-05T10:00:00Z", "eventSource": "iam.amazonaws.com",
         "eventName": "CreateAccessKey",
         "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
         "sourceIPAddress": "203.0.113.7", "awsRegion": "us-east-1",
         "requestParameters": {"userName": "svc-etl"},
         "responseElements": {"accessKey": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "s3cr3t"}}},
        {"eventTime": "2026-01-05T09:00:00Z", "eventSource": "s3.amazonaws.com",
         "eventName": "PutBucketPolicy",
         "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/ci/gh"},
         "sourceIPAddress": "198.51.100.2", "errorCode": "AccessDenied", "errorMessage": "not authorized"},
    ]}
    text = json.dumps(doc, indent=2)
    rs = split_records(text, JSON)
    assert rs.kind == "cloudtrail" and len(rs.blocks) == 2
    early, late = rs.blocks
    assert (early.record_index, late.record_index) == (1, 0)          # sorted by time
    assert late.ts_start == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    for piece in ("CreateAccessKey", "iam.amazonaws.com", "arn:aws:iam::111122223333:user/alice",
                  "203.0.113.7", "userName=svc-etl", "AKIAEXAMPLE"):
        assert piece in late.text
    assert "s3cr3t" not in late.text
    assert "error=AccessDenied" in early.text and early.meta["error"] == "AccessDenied"
    src = lines_of(text)
    for b in rs.blocks:
        chunk = "\n".join(src[b.line_start - 1:b.line_end]).strip().rstrip(",")
        assert json.loads(chunk) == doc["Records"][b.record_index]


# ------------------------------------------------------------------------------------------------------------
# JSON Lines

@pytest.mark.parametrize("name,kind,ts_key", [
    ("aks-scribe-prod_kube-audit_2025-12-02.jsonl", "k8s_audit", "requestReceivedTimestamp"),
    ("vault_audit_kha-vault-prod_2026-01-19.jsonl", "vault_audit", "time"),
    ("aerie_model_registry_events_2025-08_2026-02.jsonl", "jsonl", "ts"),
])
def test_jsonl_streams(name, kind, ts_key):
    text = load(name)
    src = lines_of(text)
    objs = [json.loads(ln) for ln in src if ln.strip()]
    rs = split_records(text, JSONL)

    assert rs.kind == kind
    assert len(rs.blocks) == len(objs)
    assert [b.record_index for b in rs.blocks] == list(range(len(objs)))
    for b, obj in zip(rs.blocks, objs):
        assert b.kind == "event"
        assert b.line_start == b.line_end
        assert json.loads(src[b.line_start - 1]) == obj                # the block's source line
        assert b.ts_start == b.ts_end == iso(obj[ts_key])
    file_ts = [iso(o[ts_key]) for o in objs]
    assert min(b.ts_start for b in rs.blocks) == min(file_ts)
    assert max(b.ts_end for b in rs.blocks) == max(file_ts)


def test_k8s_audit_content():
    text = load("aks-scribe-prod_kube-audit_2025-12-02.jsonl")
    objs = [json.loads(ln) for ln in lines_of(text) if ln.strip()]
    rs = split_records(text, JSONL)
    for b, e in zip(rs.blocks, objs):
        assert e["verb"] in b.text and e["user"]["username"] in b.text
        assert b.meta["principal"] == e["user"]["username"]
        if e["responseStatus"].get("code", 200) >= 400:
            assert f"code={e['responseStatus']['code']}" in b.text and "decision=forbid" in b.text
    token = next(b for b, e in zip(rs.blocks, objs)
                 if e.get("objectRef", {}).get("subresource") == "token" and "@" in e["user"]["username"])
    assert "serviceaccounts/token" in token.text and "spec.expirationSeconds=28800" in token.text


def test_vault_audit_content():
    text = load("vault_audit_kha-vault-prod_2026-01-19.jsonl")
    objs = [json.loads(ln) for ln in lines_of(text) if ln.strip()]
    assert re.search(r"hmac-sha256:[0-9a-f]{64}", text)
    rs = split_records(text, JSONL)
    for b, e in zip(rs.blocks, objs):
        assert b.text.startswith(f"{iso(e['time']).strftime('%Y-%m-%dT%H:%M:%SZ')} vault {e['type']} "
                                 f"{e['request']['operation']} {e['request']['path']}")
        assert not re.search(r"[0-9a-f]{64}", b.text)                  # HMAC'd values shortened or dropped
        if e.get("error"):
            assert "permission denied" in b.text and b.meta["error"] == "permission denied"
    login = next(b for b, e in zip(rs.blocks, objs)
                 if e["type"] == "response" and e["request"]["path"] == "auth/kubernetes/login")
    assert "issued_token:" in login.text and "token_ttl=3600s" in login.text
    assert "policies=default," in login.text


def test_generic_jsonl_rendering():
    text = load("aerie_model_registry_events_2025-08_2026-02.jsonl")
    first = json.loads(lines_of(text)[0])
    b = split_records(text, JSONL).blocks[0]
    assert b.text.startswith("2025-08-04T09:45:00Z ")
    for k, v in first.items():
        if k != "ts":
            assert f"{k}={v}" in b.text
    assert b.section == first["event"] and b.meta["principal"] == first["actor"]


def test_jsonl_skips_a_malformed_line():
    src = lines_of(load("vault_audit_kha-vault-prod_2026-01-19.jsonl"))[:10]
    src[3] = '{"time": "2026-01-19T00:00:40Z", "type": "requ'            # truncated line 4
    rs = split_records("\n".join(src) + "\n", JSONL)
    assert rs.kind == "vault_audit" and len(rs.blocks) == 9
    assert [b.line_start for b in rs.blocks] == [1, 2, 3, 5, 6, 7, 8, 9, 10]


def test_mislabelled_json_media():
    # JSON Lines behind a .json name, pretty JSON behind a .jsonl name
    assert split_records(load("aerie_model_registry_events_2025-08_2026-02.jsonl"), JSON).kind == "jsonl"
    assert split_records(load("gcp_audit_iam_kha-mlp-prod_2025-11.json"), JSONL).kind == "gcp_audit"
    # JSON Lines in a .log file
    assert split_records(load("aks-scribe-prod_kube-audit_2025-12-02.jsonl"), TEXT).kind == "k8s_audit"


def test_generic_json_array():
    doc = [{"id": 1, "created_at": "2026-01-01T00:00:00Z", "owner": {"name": "x", "team": "y"},
            "blob": "A" * 5000, "note": "hello world"},
           {"id": 2, "created_at": "2026-01-02T00:00:00+01:00", "owner": {"name": "z"}}]
    rs = split_records(json.dumps(doc), JSON)
    assert rs.kind == "json_records" and len(rs.blocks) == 2
    a, b = rs.blocks
    assert a.text == '2026-01-01T00:00:00Z id=1 owner.name=x owner.team=y note="hello world"'
    assert "AAAA" not in a.text                                       # very long values skipped
    assert b.ts_start == datetime(2026, 1, 1, 23, 0, tzinfo=UTC)      # converted to UTC


# ------------------------------------------------------------------------------------------------------------
# Line-oriented logs

def test_syslog_auth_log(pinned_now):
    name = "mlp-train-gpu-04_auth.log"
    text = load(name)
    src = lines_of(text)
    nonempty = [(i, ln) for i, ln in enumerate(src, 1) if ln.strip()]
    assert all(re.match(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ", ln) for _, ln in nonempty)
    rs = split_records(text, TEXT)

    assert rs.kind == "syslog"
    assert len(rs.blocks) == len(nonempty)
    for b, (lineno, line) in zip(rs.blocks, nonempty):
        assert (b.line_start, b.line_end) == (lineno, lineno)
        assert b.text == line.strip()
        stamp = datetime.strptime("2025 " + " ".join(line.split()[:3]), "%Y %b %d %H:%M:%S")
        stamp = stamp.replace(tzinfo=UTC)
        assert b.ts_start == stamp                                  # Dec 2026 would be in the future -> 2025
    sudo = next(b for b in rs.blocks if "USER=svc-train-sync ; COMMAND=/bin/bash -i" in b.text)
    assert sudo.section == "sudo" and sudo.meta["host"] == "mlp-train-gpu-04"


def test_syslog_year_inference(pinned_now):
    text = "Dec 31 23:59:58 h sshd[1]: a\nJan  1 00:00:02 h sshd[1]: b\n"
    pinned_now(datetime(2026, 1, 10, tzinfo=UTC))
    ts = [b.ts_start for b in split_records(text, TEXT).blocks]
    assert ts == [datetime(2025, 12, 31, 23, 59, 58, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)]

    one = "Dec  1 00:00:01 h CRON[2]: x\n"
    pinned_now(datetime(2026, 12, 5, tzinfo=UTC))
    assert split_records(one, TEXT).blocks[0].ts_start.year == 2026
    pinned_now(datetime(2026, 6, 1, tzinfo=UTC))
    assert split_records(one, TEXT).blocks[0].ts_start.year == 2025


def test_rfc5424_syslog():
    text = ("<34>1 2026-01-02T03:04:05.000Z host1 su - ID47 - 'su root' failed for lonvick\n"
            "<13>1 2026-01-02T04:04:05+01:00 host1 sshd 77 - - Accepted publickey\n")
    rs = split_records(text, TEXT)
    assert rs.kind == "syslog"
    assert [b.ts_start for b in rs.blocks] == [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)] * 2
    assert [b.section for b in rs.blocks] == ["su", "sshd"]


def test_app_log():
    name = "scribe-summariser-api_2026-02-10.log"
    text = load(name)
    src = lines_of(text)
    nonempty = [(i, ln) for i, ln in enumerate(src, 1) if ln.strip()]
    stamps = [iso(ln.split()[0]) for _, ln in nonempty]
    rs = split_records(text, TEXT)

    assert rs.kind == "app_log"
    assert len(rs.blocks) == len(nonempty)
    for b, (lineno, line), stamp in zip(rs.blocks, nonempty, stamps):
        assert (b.line_start, b.line_end) == (lineno, lineno)
        assert b.text == line.strip()
        assert b.ts_start == stamp
    assert (rs.blocks[0].ts_start, rs.blocks[-1].ts_end) == (min(stamps), max(stamps))
    err = next(b for b in rs.blocks if " ERROR " in b.text)
    assert err.meta["level"] == "ERROR" and err.section == "perch-client"


def test_app_log_continuation_lines():
    text = ("2026-02-10T06:00:00.000Z ERROR api [serving] request failed\n"
            "Traceback (most recent call last):\n"
            '  File "app.py", line 12, in handle\n'
            "ValueError: bad payload\n"
            "\n"
            "2026-02-10 06:00:01,250 INFO api [health] ok\n")
    rs = split_records(text, TEXT)
    assert rs.kind == "app_log" and len(rs.blocks) == 2
    first, second = rs.blocks
    assert (first.line_start, first.line_end) == (1, 4)
    assert first.text.endswith("ValueError: bad payload") and "Traceback" in first.text
    assert (second.line_start, second.line_end) == (6, 6)
    assert second.ts_start == datetime(2026, 2, 10, 6, 0, 1, 250000, tzinfo=UTC)


# ------------------------------------------------------------------------------------------------------------
# Not records, and broken input

@pytest.mark.parametrize("name", [
    "KHA-STD-DATA-007_training_audio_retention_and_lineage.md",
    "scribe-summariser-4.2_model_card_and_IFU.md",
    "KHA-AIMS-DOC-001_AIMS_scope_statement_v1.2.txt",
])
def test_prose_is_not_records(name):
    assert split_records(load(name), TEXT) is None


def test_mostly_prose_with_some_timestamps_is_not_a_log():
    text = ("Incident review notes\n2026-02-10T06:00:00Z alert fired\nThe team met and agreed actions.\n"
            "Owner: ops.\nNext review in a month.\n")
    assert split_records(text, TEXT) is None


def test_unrecognised_json_returns_none():
    assert split_records('{"policy": "AI use", "version": 3, "owner": {"name": "x"}}', JSON) is None
    assert split_records("[1, 2, 3]", JSON) is None
    assert split_records("<html></html>", "text/html") is None


@pytest.mark.parametrize("text,media", [
    ('{"issues": [{"key": "A-1", "fields": {}', JSON),
    ("", JSON),
    ("{'single': 'quotes'}", JSON),
    ("not json\nstill not json\n{\"a\": 1}\n", JSONL),
    ("[" * 100_000, JSON),
])
def test_malformed_json_raises(text, media):
    with pytest.raises(ValueError):
        split_records(text, media)


def test_broken_json_as_plain_text_does_not_raise():
    assert split_records('{"issues": [', TEXT) is None


# ------------------------------------------------------------------------------------------------------------
# Across all record fixtures

RECORD_FIXTURES = [
    ("jira_KHA-1187_scribe-asr_group_retest.json", JSON),
    ("jira_MLP-2291_merlin-trs_3.3.0_promotion.json", JSON),
    ("jira_SECOPS-842_rotate_transcription_sp_secret.json", JSON),
    ("jira_search_MLP_drift_triage_2026Q1.json", JSON),
    ("github_aerie-infra_issue_318_stale_workload_identity.json", JSON),
    ("servicenow_change_request_export_2025-08_2026-02.csv", CSV),
    ("servicenow_sc_req_item_PHI_training_data_access_2025H2.csv", CSV),
    ("gcp_audit_iam_kha-mlp-prod_2025-11.json", JSON),
    ("azure_activity_log_rg-scribe-prod-uks_2025-10-14.json", JSON),
    ("aks-scribe-prod_kube-audit_2025-12-02.jsonl", JSONL),
    ("vault_audit_kha-vault-prod_2026-01-19.jsonl", JSONL),
    ("aerie_model_registry_events_2025-08_2026-02.jsonl", JSONL),
    ("mlp-train-gpu-04_auth.log", TEXT),
    ("scribe-summariser-api_2026-02-10.log", TEXT),
]


@pytest.mark.parametrize("name,media", RECORD_FIXTURES)
def test_blocks_well_formed(name, media):
    # (how fast splitting is, is measured by bench.ingest, not here: a wall-clock bound fails on a loaded machine)
    text = load(name)
    rs = split_records(text, media)
    n_lines = len(lines_of(text))
    assert rs.blocks
    for b in rs.blocks:
        assert isinstance(b, Block) and b.text.strip()
        assert b.kind in ("record", "event")
        assert b.page is None
        assert b.ts_start is not None and b.ts_end is not None
        for ts in (b.ts_start, b.ts_end):
            assert ts.tzinfo is not None and ts.utcoffset().total_seconds() == 0
        assert b.ts_start <= b.ts_end
        assert b.line_start is not None and 1 <= b.line_start <= b.line_end <= n_lines
        json.dumps(b.meta)                                         # JSON-safe
        assert len(b.text) < 8000
