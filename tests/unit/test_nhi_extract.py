"""Machine-identity (NHI) extraction over split records (ingest/nhi, RecordFormat.identities).

Small inline records pin each format's rules; the evidence files under eval/datasets/files*/ are read through the
partitioner (and the record dispatcher) to check the identities found per kind, that people never become
identities, that every sighting points back at its record and lines, and that no secret value leaks into one.
Expected values come from reading the evidence files, not from the code under test.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from ingest.nhi import KINDS, PROVIDERS, Sighting
from ingest.nhi import rules as R
from ingest.nhi.extract import collect
from ingest.nhi.model import full
from ingest.nhi.text import scan
from ingest.partition import partition
from ingest.records import split_records
from ingest.records.base import CsvTable
from ingest.records.dispatch import unsplit_identities
from ingest.records.formats import github_audit

DATASETS = Path(__file__).parents[2] / "eval" / "datasets"
JSON, JSONL, CSV, TEXT, LOG = "application/json", "application/x-ndjson", "text/csv", "text/plain", "text/x-log"


def sightings(text: str, media: str) -> list[dict]:
    """What the partitioner returns for a text export (the split records' sightings, else the unsplit ones),
    every field filled in."""
    rs = split_records(text, media)
    if rs is None:
        return [full(d) for d in unsplit_identities(text, media)]
    out = collect(rs.blocks)
    assert not any("nhi" in b.meta for b in rs.blocks), "sightings are popped from the blocks"
    return [full(d) for d in out]


def ids(found: list[dict], kind: str | None = None) -> set[str]:
    return {d["identity"] for d in found if kind is None or d["kind"] == kind}


def one(found: list[dict], identity: str, **match) -> dict:
    hits = [d for d in found if d["identity"] == identity and all(d.get(k) == v for k, v in match.items())]
    assert hits, (identity, match, [(d["identity"], d["action"]) for d in found])
    return hits[0]


def jsonl(*events: dict) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


# ------------------------------------------------------------------------------------------------------------
# The model

def test_sighting_round_trip_and_validation():
    s = Sighting("system:serviceaccount:ml:trainer", "k8s_service_account", "kubernetes", ["ml/trainer"],
                 action="get secrets", privileged=True)
    d = s.to_dict()
    assert json.loads(json.dumps(d)) == d and d["aliases"] == ["ml/trainer"]
    assert Sighting.from_dict(d) == s and isinstance(Sighting.from_dict(d).aliases, tuple)
    assert s.with_(human="alice").human == "alice" and s.human is None
    with pytest.raises(AttributeError):
        s.identity = "other"          # frozen
    with pytest.raises(ValueError):
        Sighting("x", "person", "aws")
    with pytest.raises(ValueError):
        Sighting("x", "aws_iam_role", "aws", credential_event="expired")
    assert len(KINDS) == 14 and "other" in KINDS and "unix" in PROVIDERS


def test_people_and_software_names():
    for name in ("svc-etl", "ci-deploy-bot", "gha-runner[bot]", "jenkins", "backup-sync", "acme-feed-drop"):
        assert R.software_account(name), name
    for name in ("alice.smith", "alice_smith_example_org", "alice@example.org", "jdoe", "root", "ubuntu"):
        assert not R.software_account(name), name
    assert R.assumed_to_role("arn:aws:sts::111122223333:assumed-role/etl/s1") == (
        "arn:aws:iam::111122223333:role/etl", "etl", "s1")
    assert R.ua_tool("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io)") == "Terraform/1.9.8"
    assert R.desktop_ua("kubectl/v1.31.3 (darwin/arm64) kubernetes/abc")
    assert not R.desktop_ua("kubectl/v1.30 (linux/amd64)")
    assert R.privileged_role("arn:aws:iam::aws:policy/AdministratorAccess") and R.privileged_role("roles/owner")
    assert not R.privileged_role("roles/storage.objectViewer")


# ------------------------------------------------------------------------------------------------------------
# Text scanner (formats without an extractor, tickets)

def test_text_scanner_finds_structural_mentions_only():
    text = ("Rotate arn:aws:iam::111122223333:role/etl-runner and "
            "arn:aws:sts::111122223333:assumed-role/etl-runner/s-9 "
            "(key AKIAABCDEFGHIJKLMNOP), bound to system:serviceaccount:ml:trainer and "
            "proj.svc.id.goog[ml/scorer]; the export runs as exporter@proj-prod.iam.gserviceaccount.com; "
            "renovate[bot] opened it; subject repo:acme/infra:ref:refs/heads/main; vault auth/approle/role/etl. "
            "The svc-legacy user and Alice's laptop are prose, not identities. "
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_abc/alice@example.org signed in.")
    found = [s.to_dict() for s in scan(text, action="mentioned", actor=False)]
    by_kind = {(d["kind"], d["identity"]) for d in found}
    assert by_kind == {
        ("aws_iam_role", "arn:aws:iam::111122223333:role/etl-runner"),
        ("aws_access_key", "AKIAABCDEFGHIJKLMNOP"),
        ("k8s_service_account", "system:serviceaccount:ml:trainer"),
        ("k8s_service_account", "system:serviceaccount:ml:scorer"),
        ("gcp_service_account", "exporter@proj-prod.iam.gserviceaccount.com"),
        ("github_app", "renovate[bot]"),
        ("github_actions_oidc", "repo:acme/infra:ref:refs/heads/main"),
        ("vault_role", "etl"),
    }
    role = one(found, "arn:aws:iam::111122223333:role/etl-runner")
    assert "arn:aws:sts::111122223333:assumed-role/etl-runner/s-9" in role["aliases"]     # session under its role
    assert one(found, "AKIAABCDEFGHIJKLMNOP")["action"] == "mentioned [long-lived key]"
    assert all(d["actor"] is False for d in found)
    assert scan("nothing to see: svc-etl ran at 02:00") == []


def test_app_log_lines_are_scanned():
    log = ("2026-02-10T06:00:00.000Z INFO api [boot] assumed arn:aws:iam::111122223333:role/api-runtime\n"
           "2026-02-10T06:00:01.000Z INFO api [serving] request served in 20 ms\n")
    found = sightings(log, TEXT)
    assert [(d["identity"], d["record_index"], d["line_start"]) for d in found] == [
        ("arn:aws:iam::111122223333:role/api-runtime", 0, 1)]
    assert found[0]["at"] == "2026-02-10T06:00:00Z"


# ------------------------------------------------------------------------------------------------------------
# CloudTrail

def _ct(name, uid, **kw):
    return {"eventTime": kw.pop("t", "2026-01-05T10:00:00Z"), "eventSource": "iam.amazonaws.com",
            "eventName": name, "userIdentity": uid, "awsRegion": "eu-west-1", "recipientAccountId": "111122223333",
            **kw}


SSO = {"type": "AssumedRole",
       "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/alice@example.org",
       "accessKeyId": "ASIAAAAAAAAAAAAAAAA1",
       "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0a1b"}}}
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


def test_cloudtrail_roles_users_keys_and_no_secrets():
    etl = {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/etl-runner/botocore-session-1",
           "accessKeyId": "ASIABBBBBBBBBBBBBBB2",
           "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/etl-runner"}}}
    bot = {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ci-deploy-bot", "userName": "ci-deploy-bot",
           "accessKeyId": "AKIACCCCCCCCCCCCCCC3"}
    person = {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob.jones", "userName": "bob.jones",
              "sessionContext": {"attributes": {"mfaAuthenticated": "true"}}}
    doc = {"Records": [
        _ct("GetSecretValue", etl, userAgent="Boto3/1.35.93 md/Botocore#1.35.93", sourceIPAddress="10.0.0.5"),
        _ct("GetSecretValue", bot, userAgent="aws-cli/2.17.40 md/awscrt", sourceIPAddress="34.1.2.3",
            errorCode="AccessDenied"),
        _ct("ConsoleLogin", person, userAgent="Mozilla/5.0 (Macintosh)"),
        _ct("CreateAccessKey", SSO, userAgent="aws-cli/2.22.35", requestParameters={"userName": "svc-export"},
            responseElements={"accessKey": {"userName": "svc-export", "accessKeyId": "AKIADDDDDDDDDDDDDDD4",
                                            "secretAccessKey": SECRET, "status": "Active"}}),
        _ct("AttachRolePolicy", SSO, requestParameters={"roleName": "etl-runner",
                                                         "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    ]}
    found = sightings(json.dumps(doc, indent=2), JSON)
    assert ids(found, "aws_iam_role") == {"arn:aws:iam::111122223333:role/etl-runner"}
    assert ids(found, "aws_iam_user") == {"arn:aws:iam::111122223333:user/ci-deploy-bot",
                                          "arn:aws:iam::111122223333:user/svc-export"}
    assert ids(found, "aws_access_key") == {"ASIABBBBBBBBBBBBBBB2", "AKIACCCCCCCCCCCCCCC3", "AKIADDDDDDDDDDDDDDD4"}
    role = one(found, "arn:aws:iam::111122223333:role/etl-runner", action="GetSecretValue")
    assert role["aliases"] == ["arn:aws:sts::111122223333:assumed-role/etl-runner/botocore-session-1"]
    assert role["credential"] == "ASIABBBBBBBBBBBBBBB2" and role["workload"] == "Boto3/1.35.93"
    assert role["source"] == "10.0.0.5" and role["actor"] and not role["human_use"]
    assert "temporary" in one(found, "ASIABBBBBBBBBBBBBBB2")["action"]
    assert "long-lived" in one(found, "AKIACCCCCCCCCCCCCCC3")["action"]
    assert one(found, "arn:aws:iam::111122223333:user/ci-deploy-bot")["action"] == "GetSecretValue (AccessDenied)"
    created = one(found, "arn:aws:iam::111122223333:user/svc-export")
    assert (created["credential_event"], created["credential"], created["human"], created["actor"]) == (
        "created", "AKIADDDDDDDDDDDDDDD4", "alice@example.org", False)
    granted = one(found, "arn:aws:iam::111122223333:role/etl-runner", action="AttachRolePolicy")
    assert granted["privileged"] and granted["human"] == "alice@example.org"
    # people are not identities: the SSO session, the console user
    assert not any("AWSReservedSSO" in d["identity"] or "bob.jones" in d["identity"] for d in found)
    assert SECRET not in json.dumps(found)
    for d in found:
        assert d["record_index"] is not None and d["line_start"] is not None and d["at"]


def test_cloudtrail_a_person_assuming_a_service_role_is_human_use_of_the_session():
    person = {"type": "AssumedRole",
              "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Eng_0a1b/kim@example.org",
              "accessKeyId": "ASIAEEEEEEEEEEEEEEE5"}
    session = {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/pipeline-exec/debug",
               "accessKeyId": "ASIAFFFFFFFFFFFFFFF6"}
    doc = {"Records": [
        _ct("AssumeRole", person, requestParameters={"roleArn": "arn:aws:iam::111122223333:role/pipeline-exec",
                                                     "roleSessionName": "debug"},
            responseElements={"credentials": {"accessKeyId": "ASIAFFFFFFFFFFFFFFF6", "sessionToken": "IQoJb3JpZ2lu"},
                              "assumedRoleUser": {
                                  "arn": "arn:aws:sts::111122223333:assumed-role/pipeline-exec/debug"}}),
        _ct("GetSecretValue", session, t="2026-01-05T10:05:00Z", userAgent="aws-cli/2.17.40"),
    ]}
    found = sightings(json.dumps(doc), JSON)
    uses = [d for d in found if d["identity"] == "arn:aws:iam::111122223333:role/pipeline-exec"]
    assert len(uses) == 2 and all(d["human_use"] and d["human"] == "kim@example.org" for d in uses)
    assert "IQoJb3JpZ2lu" not in json.dumps(found)


def test_expired_credentials_still_tried():
    bot = {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ci-deploy-bot", "userName": "ci-deploy-bot",
           "accessKeyId": "AKIACCCCCCCCCCCCCCC3"}
    event = _ct("GetCallerIdentity", bot, errorCode="ExpiredToken",
                errorMessage="The security token included in the request is expired")
    ct = sightings(json.dumps({"Records": [event]}), JSON)
    assert {d["credential_event"] for d in ct} == {"used_after_expiry"}
    k8s = sightings(jsonl(_k8s("get", {"username": SA}, {"resource": "pods", "namespace": "ml"}, code=401,
                                responseStatus={"code": 401, "message": "token has expired"})), JSONL)
    assert [d["credential_event"] for d in k8s] == ["used_after_expiry"]


def test_cloudtrail_lookup_events_export_is_read_without_being_split():
    inner = _ct("GetSecretValue", {"type": "AssumedRole",
                                   "arn": "arn:aws:sts::111122223333:assumed-role/ocr-irsa/botocore-session-7",
                                   "accessKeyId": "ASIAGGGGGGGGGGGGGGG7"})
    doc = {"Events": [{"EventId": "e1", "EventName": "GetSecretValue", "EventTime": "2026-01-05T10:00:00+00:00",
                       "CloudTrailEvent": json.dumps(inner)}]}
    text = json.dumps(doc, indent=1)
    assert split_records(text, JSON) is None        # still chunked as a plain JSON document
    found = unsplit_identities(text, JSON)
    assert ids(found) == {"arn:aws:iam::111122223333:role/ocr-irsa", "ASIAGGGGGGGGGGGGGGG7"}
    assert {(d["record_index"], d["line_start"]) for d in found} == {(0, 3)}


# ------------------------------------------------------------------------------------------------------------
# Kubernetes audit

def _k8s(verb, user, ref, **kw):
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": kw.pop("id", "a1"),
            "stage": "ResponseComplete",
            "verb": verb, "user": user, "objectRef": ref, "responseStatus": {"code": kw.pop("code", 200)},
            "requestReceivedTimestamp": kw.pop("t", "2026-02-03T08:00:00Z"), **kw}


SA = "system:serviceaccount:ml:trainer"


def test_k8s_service_accounts_privilege_and_people():
    pod_sa = {"username": SA, "extra": {"authentication.kubernetes.io/pod-name": ["trainer-7c9d-x2kq9"],
                                        "authentication.kubernetes.io/credential-id": ["JTI=abc"]}}
    events = [
        _k8s("get", pod_sa, {"resource": "secrets", "namespace": "ml", "name": "db"}, sourceIPs=["10.1.2.3"],
             userAgent="python-kubernetes/31.0.0",
             annotations={"authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "x" of ClusterRole '
                                                         '"cluster-admin" to ServiceAccount "trainer/ml"'}),
        _k8s("patch", {"username": "system:node:node-1"}, {"resource": "nodes", "name": "node-1"}),
        _k8s("create", {"username": "system:node:node-1"},
             {"resource": "serviceaccounts", "subresource": "token", "namespace": "ml", "name": "scorer"}),
        _k8s("create", {"username": "alice@example.org"},
             {"resource": "clusterrolebindings"}, userAgent="kubectl/v1.31.3 (darwin/arm64)",
             requestObject={"kind": "ClusterRoleBinding", "roleRef": {"name": "cluster-admin"},
                            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]}),
        _k8s("create", {"username": "alice@example.org"},
             {"resource": "serviceaccounts", "subresource": "token", "namespace": "ml", "name": "trainer"},
             userAgent="kubectl/v1.31.3 (darwin/arm64)", sourceIPs=["81.2.3.4"]),
        _k8s("list", {"username": SA, "extra": {"authentication.kubernetes.io/credential-id": ["JTI=def"]}},
             {"resource": "secrets", "namespace": "ml"}, userAgent="kubectl/v1.31.3 (darwin/arm64)",
             sourceIPs=["81.2.3.4"], code=403, annotations={"authorization.k8s.io/decision": "forbid"}),
        _k8s("create", {"username": "bob@example.org"},
             {"resource": "pods", "subresource": "exec", "namespace": "ml", "name": "trainer-7c9d-x2kq9"}),
    ]
    found = sightings(jsonl(*events), JSONL)
    assert ids(found) == {SA, "system:serviceaccount:ml:scorer", "system:serviceaccount:ci:deployer"}
    first = one(found, SA, record_index=0)
    assert first["privileged"] and first["workload"] == "trainer-7c9d-x2kq9" and first["credential"] == "JTI=abc"
    assert first["source"] == "10.1.2.3" and first["action"] == "get secrets"
    assert one(found, "system:serviceaccount:ml:scorer")["action"] == "token issued to kubelet"
    bound = one(found, "system:serviceaccount:ci:deployer")
    assert bound["privileged"] and bound["human"] == "alice@example.org" and not bound["actor"]
    minted = one(found, SA, record_index=4)
    assert minted["credential_event"] == "created" and minted["human_use"] and minted["human"] == "alice@example.org"
    from_laptop = one(found, SA, record_index=5)
    assert from_laptop["human_use"] and from_laptop["action"] == "list secrets (forbidden)"
    shell = one(found, SA, record_index=6)            # the pod's service account, resolved from record 0
    assert shell["human_use"] and shell["human"] == "bob@example.org"
    assert not any("@" in d["identity"] or d["identity"].startswith("system:node") for d in found)


# ------------------------------------------------------------------------------------------------------------
# Vault audit

def _vault(path, op="read", auth=None, **kw):
    return {"time": kw.pop("t", "2026-01-19T00:00:10Z"), "type": kw.pop("type", "response"), "auth": auth or {},
            "request": {"operation": op, "path": path, "remote_address": "10.2.3.4", "data": kw.pop("data", None),
                        "client_token": "hmac-sha256:" + "ab" * 32}, **kw}


def test_vault_roles_tokens_and_people():
    k8s_auth = {"display_name": "kubernetes-ml-trainer", "accessor": "hmac-sha256:" + "11" * 32,
                "metadata": {"role": "ml-trainer", "service_account_name": "trainer",
                             "service_account_namespace": "ml"}, "policies": ["default", "ml-read"],
                "entity_id": "e-1"}
    approle = {"display_name": "approle", "metadata": {"role_name": "etl"}, "policies": ["default", "etl"]}
    person = {"display_name": "oidc-alice@example.org", "metadata": {"email": "alice@example.org"},
              "policies": ["default", "security-admin"]}
    events = [
        _vault("auth/kubernetes/login", op="update", type="request"),
        _vault("auth/kubernetes/login", op="update", response={"auth": k8s_auth}),
        _vault("secret/data/ml/db", auth=k8s_auth),
        _vault("auth/approle/login", op="update", data={"role_id": "hmac-sha256:" + "22" * 32},
               response={"auth": {**approle, "accessor": "hmac-sha256:" + "33" * 32}}),
        _vault("auth/approle/login", op="update", data={"role_id": "hmac-sha256:" + "22" * 32},
               error="invalid role or secret ID"),
        _vault("secret/data/ml/db", auth=person, error="1 error occurred:\n\t* permission denied\n\n"),
        _vault("auth/approle/role/etl/secret-id-accessor/destroy", op="update", auth=person,
               data={"secret_id_accessor": "hmac-sha256:" + "44" * 32}),
    ]
    found = sightings(jsonl(*events), JSONL)
    # a Kubernetes login acts as its Vault role; the service account bound to it is an alias of the role
    assert ids(found) == {"ml-trainer", "etl"}
    login = one(found, "ml-trainer", record_index=1)
    assert login["credential_event"] == "created" and login["credential"] == "hmac-sha256:" + "11" * 32
    assert login["kind"] == "vault_role"
    assert login["aliases"] == ["kubernetes-ml-trainer", "entity:e-1", SA, "auth/kubernetes/role/ml-trainer"]
    assert one(found, "ml-trainer", record_index=2)["action"].startswith("vault read secret/data/ml/db")
    assert not any(a == "approle" for d in found for a in d["aliases"])          # generic names never alias
    assert one(found, "etl", record_index=3)["credential_event"] == "created"
    failed = one(found, "etl", record_index=4)    # named by role_id only, resolved
    assert "invalid role or secret ID" in failed["action"]
    destroyed = one(found, "etl", record_index=6)
    assert (destroyed["credential_event"], destroyed["human"], destroyed["actor"]) == (
        "deleted", "alice@example.org", False)
    assert not any(d["record_index"] == 0 for d in found)            # request entries: their response counts
    assert not any("alice" in d["identity"] for d in found)
    assert "hmac-sha256:" + "ab" * 32 not in json.dumps(found)       # client tokens are never copied
    assert all(not a.startswith("~") for d in found for a in d["aliases"])


# ------------------------------------------------------------------------------------------------------------
# GCP and Azure audit logs

def test_gcp_service_accounts_keys_and_bindings():
    sa = "exporter@proj-prod.iam.gserviceaccount.com"
    entries = [
        {"protoPayload": {"serviceName": "iam.googleapis.com",
                          "methodName": "google.iam.admin.v1.CreateServiceAccountKey",
                          "authenticationInfo": {"principalEmail": "alice@example.org"},
                          "requestMetadata": {"callerIp": "81.2.3.4"},
                          "request": {"name": f"projects/-/serviceAccounts/{sa}"},
                          "response": {"name": f"projects/proj-prod/serviceAccounts/{sa}/keys/0a1b2c3d4e",
                                       "private_key_data": "LS0tLS1CRUdJTiBQUklWQVRF"}},
         "insertId": "1", "timestamp": "2025-11-05T14:21:07Z"},
        {"protoPayload": {"serviceName": "cloudresourcemanager.googleapis.com", "methodName": "SetIamPolicy",
                          "authenticationInfo": {"principalEmail": "tf@admin-proj.iam.gserviceaccount.com"},
                          "requestMetadata": {"callerSuppliedUserAgent": "Terraform/1.9.8"},
                          "serviceData": {"policyDelta": {"bindingDeltas": [
                              {"action": "ADD", "role": "roles/owner", "member": f"serviceAccount:{sa}"},
                              {"action": "ADD", "role": "roles/viewer", "member": "user:bob@example.org"}]}}},
         "insertId": "2", "timestamp": "2025-11-06T10:00:00Z"},
    ]
    found = sightings(json.dumps(entries, indent=2), JSON)
    assert ids(found) == {sa, "tf@admin-proj.iam.gserviceaccount.com"}
    key = one(found, sa, record_index=0)
    assert (key["credential_event"], key["credential"], key["human"]) == ("created", "0a1b2c3d4e", "alice@example.org")
    assert one(found, sa, record_index=1)["privileged"]
    assert one(found, "tf@admin-proj.iam.gserviceaccount.com")["workload"] == "Terraform/1.9.8"
    assert "LS0tLS1CRUdJTiBQUklWQVRF" not in json.dumps(found)


def test_azure_service_principals():
    sub = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg"
    app = {"idtyp": "app", "appid": "2a7e91c4-0d3b-4f68-9e25-b8c1d7a6f304"}
    events = [
        {"eventTimestamp": "2025-10-14T13:05:53Z", "caller": "6c0d2b7e-41a9-4f83-9d5e-a1b2c3d4e5f6", "claims": app,
         "operationName": {"value": "Microsoft.Authorization/roleAssignments/write"}, "status": {"value": "Succeeded"},
         "resourceId": f"{sub}/providers/Microsoft.Authorization/roleAssignments/r1",
         "properties": {"responseBody": json.dumps({"properties": {
             "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/"
                                 "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
             "principalId": "f1a93c0e-5d28-4e7b-b641-0c9d3e2a8f75", "principalType": "ServicePrincipal"}})}},
        {"eventTimestamp": "2025-10-14T13:05:31Z", "caller": "6c0d2b7e-41a9-4f83-9d5e-a1b2c3d4e5f6", "claims": app,
         "operationName": {"value": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/"
                                    "write"}, "status": {"value": "Succeeded"},
         "resourceId": f"{sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-asr/"
                       "federatedIdentityCredentials/fic-asr",
         "properties": {"requestbody": json.dumps({"properties": {"subject": "system:serviceaccount:asr:worker"}})}},
        {"eventTimestamp": "2025-10-14T09:30:02Z", "caller": "alice@example.org",
         "claims": {"name": "Alice", "upn": "alice@example.org"},
         "operationName": {"value": "Microsoft.Storage/storageAccounts/listKeys/action"},
         "status": {"value": "Succeeded"}, "resourceId": f"{sub}/providers/Microsoft.Storage/storageAccounts/st1"},
    ]
    found = sightings(json.dumps(events, indent=2), JSON)
    assert ids(found) == {"6c0d2b7e-41a9-4f83-9d5e-a1b2c3d4e5f6", "f1a93c0e-5d28-4e7b-b641-0c9d3e2a8f75", "id-asr",
                          "system:serviceaccount:asr:worker"}
    owner = one(found, "f1a93c0e-5d28-4e7b-b641-0c9d3e2a8f75")
    assert owner["privileged"] and owner["action"].endswith("Owner") and not owner["actor"]
    fic = one(found, "id-asr")
    assert (fic["credential_event"], fic["credential"]) == ("created", "fic-asr")
    assert not any("alice" in d["identity"] for d in found)


# ------------------------------------------------------------------------------------------------------------
# auth.log

AUTH = "\n".join((
    'Jan 19 06:25:01 host-1 CRON[40211]: pam_unix(cron:session): session opened for user '
    'svc-sync(uid=1002) by (uid=0)',
    'Jan 19 06:25:01 host-1 CRON[40212]: pam_unix(cron:session): session opened for user root(uid=0) by '
    '(uid=0)',
    'Jan 19 09:14:22 host-1 sshd[51877]: Accepted publickey for svc-sync from 10.8.0.12 port 52144 ssh2: '
    'ED25519 SHA256:AbCdEf012345',
    'Jan 19 09:15:22 host-1 sshd[51878]: Accepted publickey for alice.smith from 10.8.0.13 port 52145 '
    'ssh2: ECDSA SHA256:Zz',
    'Jan 19 09:16:22 host-1 sshd[51879]: Accepted password for svc-etl from 203.0.113.9 port 52146 ssh2',
    'Jan 19 09:17:03 host-1 sudo:   alice.smith : TTY=pts/0 ; PWD=/home/alice.smith ; USER=svc-sync ; '
    'COMMAND=/bin/bash -i',
    'Jan 19 09:18:03 host-1 sudo:   svc-sync : PWD=/home/svc-sync ; USER=root ; '
    'COMMAND=/usr/bin/systemctl restart agent',
    'Jan 19 09:19:03 host-1 su: (to svc-etl) bob on pts/1',
    'Jan 19 09:20:03 host-1 sshd[51880]: User svc-partner from 198.51.100.7 not allowed because account '
    'has expired',
    'Jan 19 09:21:03 host-1 sudo: alice.smith : TTY=pts/0 ; PWD=/tmp ; USER=root ; COMMAND=/usr/bin/tee '
    '-a /home/svc-etl/.ssh/authorized_keys',
    'Jan 19 09:22:03 host-1 sshd[51881]: Failed password for invalid user admin from 198.51.100.8 port '
    '4242 ssh2',
)) + "\n"


def test_auth_log_service_accounts(pinned_year):
    found = sightings(AUTH, TEXT)
    assert ids(found) == {"svc-sync", "svc-etl", "svc-partner", "root"}
    assert one(found, "svc-sync", line_start=1)["action"] == "cron session"
    # root is listed for its crontab (a scheduled job runs as it), not for the sudo to root further down
    assert [(d["line_start"], d["action"]) for d in found if d["identity"] == "root"] == [(2, "cron session")]
    key = one(found, "svc-sync", line_start=3)
    assert (key["credential"], key["source"], key["workload"], key["human_use"]) == (
        "SHA256:AbCdEf012345", "10.8.0.12", "host-1", False)
    assert one(found, "svc-etl", line_start=5)["human_use"]                       # a password login
    shell = one(found, "svc-sync", line_start=6)
    assert shell["human_use"] and shell["human"] == "alice.smith"
    assert one(found, "svc-sync", line_start=7)["privileged"]                     # sudo to root
    assert one(found, "svc-etl", line_start=8)["human"] == "bob"
    assert one(found, "svc-partner")["credential_event"] == "used_after_expiry"
    added = one(found, "svc-etl", line_start=10)
    assert added["credential_event"] == "created" and not added["actor"]
    assert all(d["at"] and d["at"].startswith("2026-01-19") for d in found)


@pytest.fixture
def pinned_year(monkeypatch):
    from datetime import UTC, datetime

    from ingest import records
    monkeypatch.setattr(records, "_utcnow", lambda: datetime(2026, 11, 28, 12, 0, tzinfo=UTC))


# ------------------------------------------------------------------------------------------------------------
# GitHub audit log CSV, tickets

def test_github_audit_rows():
    rows = [
        ["@timestamp", "action", "actor", "actor_ip", "repo", "user", "programmatic_access_type", "hashed_token",
         "data"],
        ["1769900400000", "workflows.completed_workflow_run", "alice-gh", "81.1.1.1", "acme/infra", "", "", "",
         json.dumps({"name": "plan"})],
        ["1769900500000", "workflows.completed_workflow_run", "dependabot[bot]", "", "acme/infra", "", "", "",
         json.dumps({"name": "deps"})],
        ["1765443835000", "deploy_key.create", "bob-gh", "81.1.1.2", "acme/models", "", "", "",
         json.dumps({"title": "backfill-write", "read_only": False, "fingerprint": "SHA256:XXQY"})],
        ["1769522400000", "org_credential_authorization.grant", "carol-gh", "81.1.1.3", "", "",
         "personal access token (fine-grained)", "tok_c1a5c1", json.dumps({"expires_in_days": 30})],
        ["1768215728000", "org_credential_authorization.revoke", "dave-gh", "81.1.1.4", "", "carol-gh", "", "",
         json.dumps({"token_name": "backfill-temp", "reason": "used by a workload"})],
    ]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    text = buf.getvalue()
    assert split_records(text, CSV) is None
    found = unsplit_identities(text, CSV)
    # carol's own unnamed token authorised for SSO is her credential, not a machine's: no sighting
    assert ids(found) == {"dependabot[bot]", "acme/models:backfill-write", "carol-gh:backfill-temp"}
    key = one(found, "acme/models:backfill-write")
    assert (key["kind"], key["credential_event"], key["credential"], key["human"], key["line_start"]) == (
        "github_pat_or_deploy_key", "created", "SHA256:XXQY", "bob-gh", 4)
    revoked = one(found, "carol-gh:backfill-temp")
    assert revoked["credential_event"] == "deleted" and revoked["human"] == "dave-gh"
    assert github_audit.detect(CsvTable(["number", "state"], [])) is None


def test_tickets_count_structural_mentions_only():
    issue = {"key": "OPS-9", "fields": {
        "summary": "Retire svc-legacy-export", "created": "2026-01-12T09:30:00.000+0000",
        "description": "The svc-legacy-export user still has key AKIAABCDEFGHIJKLMNOP and the pod runs as "
                       "system:serviceaccount:ml:exporter.",
        "comment": {"comments": [{"author": {"displayName": "Wei"}, "created": "2026-01-13T10:00:00.000+0000",
                                  "body": "Also exporter@proj.iam.gserviceaccount.com"}]}}}
    found = sightings(json.dumps(issue, indent=2), JSON)
    assert ids(found) == {"AKIAABCDEFGHIJKLMNOP", "system:serviceaccount:ml:exporter",
                          "exporter@proj.iam.gserviceaccount.com"}
    assert all(d["at"] == "2026-01-12T09:30:00Z" and d["action"].startswith("mentioned in OPS-9") and not d["actor"]
               for d in found)
    snow = ("number,short_description,opened_at\n"
            "CHG0000001,Rotate key for svc-export (no ARN here),2026-01-02 10:00:00\n"
            "CHG0000002,Bind arn:aws:iam::111122223333:role/etl-runner,2026-01-03 10:00:00\n")
    found = sightings(snow, CSV)
    assert [(d["identity"], d["record_index"], d["at"]) for d in found] == [
        ("arn:aws:iam::111122223333:role/etl-runner", 1, "2026-01-03T10:00:00Z")]


def _named(text: str) -> set[tuple[str, str]]:
    from ingest.nhi.text import named
    return {(s.identity, s.kind) for s in named(text)}


def test_ticket_prose_names_identities_by_what_it_says_they_are():
    text = ("VM batch-7 local user svc-old-export removed; GCP SA asr-old-export disabled. Rotate client secret for "
            "sp-transcribe-prod. Remove the SSH key from svc-claims-etl. EKS service account docintake/hw-detector "
            "via IRSA; federated credential for scribe/transcribe-worker. Revoke Lumora API key mara-eval-rh and "
            "the Acme key etl-nightly-01. Old key AKIA...Q7MX, token ghp_****9fQx, and the key `lw-proj-••••Q7vT`.")
    assert _named(text) == {
        ("svc-old-export", "unix_service_account"), ("asr-old-export", "gcp_service_account"),
        ("sp-transcribe-prod", "azure_service_principal"), ("svc-claims-etl", "unix_service_account"),
        ("system:serviceaccount:docintake:hw-detector", "k8s_service_account"),
        ("system:serviceaccount:scribe:transcribe-worker", "k8s_service_account"),
        ("mara-eval-rh", "api_client"), ("etl-nightly-01", "api_client"), ("AKIA...Q7MX", "aws_access_key"),
        ("ghp_****9fQx", "github_pat_or_deploy_key"), ("lw-proj-••••Q7vT", "api_client")}
    # what is not a name: a person, an address, a secret-id, an ellipsis in prose, a product's key word before a
    # non-name, a surname that is a tool's, a masked value nobody calls a key
    assert _named("SSH key from 10.20.4.11 for alice; the AppRole secret-id was destroyed; wait...then 2FA; "
                  "The key was rotated; SSH key svc; config-v2••••ab in the path") == set()
    # a pasted secret is not a name (the value would become an identity): only its masked form is read
    assert _named("Stripe API key sk_live_51HxAbCdEfGh12IjKlMn and Acme key 9f8e7d6c5b4a39281706f5e4") == set()


def test_ticket_prose_says_what_happened_to_a_credential():
    from ingest.nhi.text import named
    text = ("Revoke Acme API key report-eval-7; keep IAM user svc-keep. Rotate client secret for sp-transcribe-prod. "
            "VM batch-7 local user svc-old-export removed. GCP SA asr-old-export disabled. Classic PAT backfill-2024 "
            "created 2024-02-19, no expiry.")
    assert {(s.identity, s.credential_event) for s in named(text)} == {
        ("report-eval-7", "deleted"), ("svc-keep", None), ("sp-transcribe-prod", "rotated"),
        ("svc-old-export", "deleted"), ("asr-old-export", None),        # disabling is not a lifecycle event
        ("backfill-2024", "created")}


def test_service_account_table_with_a_project_column_builds_the_email():
    table = ("Inventory excerpt:\n```\nproject          sa                    owner       days  flags\n"
             "ml-prod-01       batch-scorer          team-ml     97    STALE\n"
             "ml-prod-01       feature-sync          team-ml     0     -\n```\n"
             "| project | service_account | keys |\n|---|---|---|\n| data-prj-9 | `exporter@data-prj-9.iam."
             "gserviceaccount.com` | 1 |\n")
    from ingest.nhi.text import named
    got = {(s.identity, s.aliases) for s in named(table)}
    assert got == {("batch-scorer@ml-prod-01.iam.gserviceaccount.com", ("batch-scorer",)),
                   ("feature-sync@ml-prod-01.iam.gserviceaccount.com", ("feature-sync",)),
                   ("exporter@data-prj-9.iam.gserviceaccount.com", ("exporter",))}
    assert named("project owner days\nml-prod-01 team-ml 3\n") == []     # no account column: nothing built


def test_inventory_listings_in_text_and_csv_exports(tmp_path):
    kubectl = tmp_path / "sa.txt"     # kubectl get serviceaccounts -A
    kubectl.write_text("Service accounts, prod cluster, 2026-03-01\n\nNAMESPACE   NAME            SECRETS   AGE\n"
                       "payments    payments-api    0         120d\nml          model-server    0         90d\n\n"
                       "NAMESPACE   NAME   READY   STATUS\nml   model-server-7d9f   1/1   Running\n")
    part = partition(kubectl, TEXT, "utf-8")
    assert [(d["identity"], d["line_start"], d["line_end"]) for d in part.nhi] == [
        ("system:serviceaccount:payments:payments-api", 3, 5), ("system:serviceaccount:ml:model-server", 3, 5)]
    apps = tmp_path / "apps.csv"      # an Entra app registration export; a list of people beside it names none
    apps.write_text("displayName,appId,signInAudience,passwordCredentials_endDateTime\n"
                    "claims-ocr-prod,0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b,AzureADMyOrg,2027-01-01T00:00:00Z\n")
    part = partition(apps, CSV, "utf-8")
    assert [(d["identity"], d["kind"], d["aliases"], d["record_index"]) for d in map(full, part.nhi)] == [
        ("claims-ocr-prod", "azure_service_principal", ["0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"], 0)]
    people = tmp_path / "people.csv"
    people.write_text("name,project,team\nJane Doe,ml-prod-01,ML\nsam-ops,ml-prod-01,Ops\n")
    assert partition(people, CSV, "utf-8").nhi == []


def test_ticket_identities_come_from_the_rendered_text_and_integration_accounts():
    # Atlassian Document Format splits a sentence into text nodes ("AppRole " + a code-marked name)
    para = {"type": "paragraph", "content": [
        {"type": "text", "text": "Vault audit: AppRole "}, {"type": "text", "text": "claims-etl",
                                                            "marks": [{"type": "code"}]},
        {"type": "text", "text": " and Classic PAT "}, {"type": "text", "text": "backfill-2024",
                                                        "marks": [{"type": "code"}]}]}
    bot = {"accountId": "5f1a2b3c4d5e6f7081920aff", "displayName": "Grafana Alerting"}
    person = {"accountId": "5f1a2b3c4d5e6f7081920a11", "displayName": "Tom Jenkins"}
    issue = {"key": "SEC-7", "fields": {"summary": "Leaver sweep", "created": "2026-01-12T09:30:00.000+0000",
                                       "reporter": bot, "creator": bot, "assignee": person,
                                       "description": {"type": "doc", "version": 1, "content": [para]},
                                       "comment": {"comments": [{"author": person, "body": "done",
                                                                 "created": "2026-01-13T10:00:00.000+0000"}]}}}
    found = sightings(json.dumps(issue), JSON)
    assert {(d["identity"], d["kind"]) for d in found} == {
        ("claims-etl", "vault_role"), ("backfill-2024", "github_pat_or_deploy_key"), ("Grafana Alerting", "api_client")}
    assert one(found, "claims-etl")["action"] == "mentioned in SEC-7" and not one(found, "claims-etl")["actor"]
    assert one(found, "Grafana Alerting")["aliases"] == ["5f1a2b3c4d5e6f7081920aff"]

    snow = ("number,caller_id,contact_type,opened_at,short_description\n"
            "INC0000001,Alertmanager,Monitoring,2026-01-02 10:00:00,Latency above SLO\n"
            "INC0000002,Jane Doe,Phone,2026-01-03 10:00:00,Model answered in the wrong language\n"
            "INC0000003,Backup Bot,Email,2026-01-04 10:00:00,\"Nightly job failed; local user svc-bkp-02 locked\"\n")
    found = sightings(snow, CSV)
    assert {(d["identity"], d["kind"], d["record_index"]) for d in found} == {
        ("Alertmanager", "api_client", 0), ("Backup Bot", "api_client", 2),
        ("svc-bkp-02", "unix_service_account", 2)}


def test_aws_credential_report_users_keys_and_people():
    head = ("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
            "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
            "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
            "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,"
            "access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n")
    rows = ("<root_account>,arn:aws:iam::111122223333:root,2019-01-01T00:00:00+00:00,not_supported,"
            "2025-10-01T10:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,"
            "false,N/A,false,N/A\n"
            "jane.doe,arn:aws:iam::111122223333:user/jane.doe,2021-03-01T00:00:00+00:00,true,2025-11-30T08:00:00+00:00,"
            "2025-06-01T00:00:00+00:00,N/A,true,true,2025-09-01T00:00:00+00:00,2025-11-01T00:00:00+00:00,eu-west-1,"
            "sts,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
            "reporting-export,arn:aws:iam::111122223333:user/reporting-export,2022-02-01T00:00:00+00:00,false,N/A,N/A,"
            "N/A,false,true,2022-02-01T00:00:00+00:00,2025-11-29T02:00:00+00:00,eu-west-1,s3,false,"
            "2023-05-05T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n")
    rs = split_records(head + rows, CSV)
    assert rs.kind == "aws_credential_report" and len(rs.blocks) == 3
    assert "access key 1: active, last rotated 2022-02-01T00:00:00Z, last used 2025-11-29T02:00:00Z (s3 eu-west-1)" \
        in rs.blocks[2].text
    found = sightings(head + rows, CSV)
    assert ids(found) == {"arn:aws:iam::111122223333:user/reporting-export"}   # not root, not a person with a password
    events = sorted((d["credential"], d["credential_event"], d["at"]) for d in found if d["credential_event"])
    assert events == [("access key 1", "created", "2022-02-01T00:00:00Z"),
                      ("access key 2", "created", "2023-05-05T00:00:00Z")]
    used = one(found, "arn:aws:iam::111122223333:user/reporting-export", action="access key 1 last used (s3 eu-west-1)")
    assert used["actor"] and used["at"] == "2025-11-29T02:00:00Z" and used["record_index"] == 2


def test_event_logs_of_no_known_format_typed_actors_targets_and_sign_ins():
    okta = jsonl(
        {"published": "2026-03-01T10:00:00.000Z", "eventType": "app.oauth2.as.token.grant.access_token",
         "actor": {"id": "0oa1abcd", "type": "PublicClientApp", "displayName": "fraud-scoring-batch"}},
        {"published": "2026-03-01T11:00:00.000Z", "eventType": "user.session.start",
         "actor": {"id": "00u1", "type": "User", "alternateId": "jane.doe@example.com", "displayName": "Jane Doe"}},
        {"published": "2026-03-01T12:00:00.000Z", "eventType": "system.api_token.create",
         "actor": {"id": "00u1", "type": "User", "displayName": "Jane Doe"},
         "target": [{"id": "00T1", "type": "Token", "alternateId": "unknown", "displayName": "scim-provisioner"}]})
    found = sightings(okta, JSONL)
    assert {(d["identity"], d["kind"], d["actor"]) for d in found} == {
        ("fraud-scoring-batch", "api_client", True), ("scim-provisioner", "api_client", False)}
    token = one(found, "scim-provisioner")
    assert (token["credential_event"], token["at"], token["record_index"]) == ("created", "2026-03-01T12:00:00Z", 2)

    graph = json.dumps({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns", "value": [
        {"createdDateTime": "2026-03-02T04:10:11Z", "appId": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
         "appDisplayName": "claims-ocr-prod", "servicePrincipalId": "8a7b6c5d-4e3f-2a1b-0c9d-8e7f6a5b4c3d",
         "servicePrincipalName": "claims-ocr-prod", "ipAddress": "20.50.1.2", "resourceDisplayName": "Azure Key Vault",
         "signInEventTypes": ["servicePrincipal"], "clientCredentialType": "clientSecret"},
        {"createdDateTime": "2026-03-02T05:00:00Z", "userPrincipalName": "jane.doe@example.com",
         "appDisplayName": "Azure Portal", "signInEventTypes": ["interactiveUser"]}]}, indent=2)
    found = sightings(graph, JSON)
    assert [(d["identity"], d["kind"], d["aliases"], d["source"], d["at"], d["line_start"]) for d in found] == [
        ("claims-ocr-prod", "azure_service_principal",
         ["0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", "8a7b6c5d-4e3f-2a1b-0c9d-8e7f6a5b4c3d"], "20.50.1.2",
         "2026-03-02T04:10:11Z", 4)]

    gitlab = json.dumps([{"created_at": "2026-02-01T10:00:00.000Z", "entity_type": "Project", "details": {
        "author_name": "Jane Doe", "target_type": "PersonalAccessToken", "target_details": "deploy-token-prod",
        "custom_message": "Created project access token with scopes read_registry"}}])
    found = sightings(gitlab, JSON)
    assert [(d["identity"], d["credential_event"], d["actor"]) for d in found] == [
        ("deploy-token-prod", "created", False)]


# ------------------------------------------------------------------------------------------------------------
# The evidence files, through the partitioner

EVIDENCE = {   # file -> media type, identities that must be found by kind (from reading the files)
    "files/aks-scribe-prod_kube-audit_2025-12-02.jsonl": (JSONL, {
        "k8s_service_account": {"system:serviceaccount:cicd:ci-deployer", "system:serviceaccount:scribe:scribe-runtime",
                                "system:serviceaccount:monitoring:drift-exporter",
                                "system:serviceaccount:perch:perch-gateway"}}),
    "files/vault_audit_kha-vault-prod_2026-01-19.jsonl": (JSONL, {
        "vault_role": {"scribe-transcribe", "merlin-online-scorer", "secrets-rotator", "perch-gateway-legacy"}}),
    "files/gcp_audit_iam_kha-mlp-prod_2025-11.json": (JSON, {
        "gcp_service_account": {"dvc-remote-sync@kha-mlp-prod.iam.gserviceaccount.com",
                                "mlflow-legacy-sync@kha-mlp-prod.iam.gserviceaccount.com",
                                "terraform-ci@kha-platform-admin.iam.gserviceaccount.com",
                                "nhi-inventory@kha-sec-tools.iam.gserviceaccount.com"},
        "k8s_service_account": {"system:serviceaccount:aerie:eval-runner"}}),
    "files/azure_activity_log_rg-scribe-prod-uks_2025-10-14.json": (JSON, {
        "azure_service_principal": {"6c0d2b7e-41a9-4f83-9d5e-a1b2c3d4e5f6", "id-scribe-transcribe-prod"},
        "k8s_service_account": {"system:serviceaccount:scribe:transcribe-worker"}}),
    "files/mlp-train-gpu-04_auth.log": (LOG, {"unix_service_account": {"svc-train-sync", "svc-legacy-asr-export"}}),
    "files/aerie_model_registry_events_2025-08_2026-02.jsonl": (JSONL, {
        "gcp_service_account": {"aerie-promote@kha-mlp-prod.iam.gserviceaccount.com"}}),
    "files/jira_SECOPS-842_rotate_transcription_sp_secret.json": (JSON, {
        "k8s_service_account": {"system:serviceaccount:scribe:transcribe-worker"}}),
    "files2/cloudtrail_lookup-events_tm-keel-prod_iam-secretsmanager_2026-01-12_16.json": (JSON, {
        "aws_iam_role": {"arn:aws:iam::482917305561:role/claims-etl-irsa",
                         "arn:aws:iam::482917305561:role/keel-argo-workflows",
                         "arn:aws:iam::482917305561:role/gha-keel-infra-terraform"},
        "aws_iam_user": {"arn:aws:iam::482917305561:user/partner-motorfacts-drop",
                         "arn:aws:iam::482917305561:user/svc-rhealy-sagemaker"},
        "aws_access_key": {"AKIAXB4N2VQ7MFDROP02", "AKIAXB4N2VQ7PLRZQ7MX"}}),
    "files2/github-audit-log_tidewater-mutual_2025-12_2026-01.csv": (CSV, {
        "github_app": {"github-actions[bot]", "keel-repo-reader"},
        "github_pat_or_deploy_key": {"tidewater-mutual/sentry-features:argo-backfill-write",
                                     "epetrova-tm:backfill-temp"}}),
    "files2/keel-prod-euw1_kube-apiserver-audit_2026-02-03.jsonl": (JSONL, {
        "k8s_service_account": {"system:serviceaccount:claims-data:claims-etl",
                                "system:serviceaccount:fraud:sentry-scoring",
                                "system:serviceaccount:external-secrets:external-secrets"}}),
    "files2/vault-prod_audit_2026-01-14.jsonl": (JSONL, {
        "vault_role": {"claims-etl", "jenkins-claims-etl-staging", "mara-gateway"}}),
    "files2/keel-batch-03_auth.log.1": (LOG, {
        "unix_service_account": {"svc-ansible", "svc-claims-etl", "svc-keel-metrics", "svc-mlflow-backup"}}),
    "files2/sftp-claims-ingest-01_auth.log": (LOG, {
        "unix_service_account": {"svc-docintake-pull", "motorfacts-push", "adj-lowther"}}),
    "files2/keel-registry-audit_2025-09_2026-02.jsonl": (JSONL, {"api_client": {"keel-drift-guard",
                                                                               "nb-runner-legacy"}}),
    "files3/cloudtrail_nfs-ml-prod_ca-central-1_20260925-27.json": (JSON, {
        "aws_iam_role": {"arn:aws:iam::418205377611:role/relay-prompt-service-irsa",
                         "arn:aws:iam::418205377611:role/sagemaker-pipeline-exec"},
        "aws_iam_user": {"arn:aws:iam::418205377611:user/ci-deploy-bot",
                         "arn:aws:iam::418205377611:user/svc-flowcast-export",
                         "arn:aws:iam::418205377611:user/svc-eta-retrain-legacy"},
        "k8s_service_account": {"system:serviceaccount:relay:prompt-service"}}),
    "files3/k8s-audit_nfs-ml-prod-eks_2026-10-08.jsonl": (JSONL, {
        "k8s_service_account": {"system:serviceaccount:ci:gitlab-deployer",
                                "system:serviceaccount:argocd:argocd-application-controller"}}),
    "files3/rw-batch-01_auth.log": (LOG, {"unix_service_account": {"svc-routeopt", "svc-etl"}}),
    "files3/PLAT-231_jira-issue.json": (JSON, {"aws_access_key": {"AKIA4NFSX7Q2LEGACY01"}}),
    "files3/github_issue_relay-prompt-service_87.json": (JSON, {
        "aws_iam_role": {"arn:aws:iam::418205377611:role/relay-prompt-service-irsa"}}),
}
# People who act in those files: never an identity of their own.
PEOPLE = ("marco.lindqvist", "jonah.feld", "jonah_feld", "kat.odonnell", "dev.patel", "mateusz.kowal",
          "alicja.zielinska", "elena.petrova", "lukas.schneider", "rbhatt", "kpatel", "lhughes", "aoife.byrne",
          "wouter.peeters", "wpeeters-tm", "mkowal-tm")
# Values that are secrets (or stand in for them) in those files: never copied into a sighting.
SECRET_KEYS = re.compile(r'"(secretAccessKey|sessionToken|client_token|password|private_key_data|secret_id|jwt)"'
                         r'\s*:\s*"([^"]{6,})"')


@pytest.fixture(scope="module")
def partitioned():
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            part = partition(DATASETS / name, EVIDENCE[name][0], "utf-8")
            for d in part.nhi:                       # compact: fields at their default are left out
                assert {"identity", "kind", "provider", "record_index", "line_start", "line_end", "at"} <= set(d)
                assert Sighting.from_dict(d).to_dict() == full(d)
            part.nhi = [full(d) for d in part.nhi]
            cache[name] = part
        return cache[name]
    return get


@pytest.mark.parametrize("name", sorted(EVIDENCE))
def test_evidence_file_identities(name, partitioned):
    part = partitioned(name)
    found = part.nhi
    assert found, name
    for kind, expected in EVIDENCE[name][1].items():
        missing = expected - ids(found, kind)
        assert not missing, (kind, missing)
    for d in found:
        assert d["kind"] in KINDS and d["provider"] in PROVIDERS
        assert d["record_index"] is not None or d["line_start"] is not None
        assert d["line_start"] is None or 1 <= d["line_start"] <= d["line_end"]
        assert d["at"] is None or re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", d["at"])
        assert not d["identity"].startswith("?") and ":assumed-role/" not in d["identity"]
        assert "AWSReservedSSO_" not in d["identity"]
        low = d["identity"].lower()
        assert not any(p in low for p in PEOPLE), d["identity"]
        Sighting.from_dict(d)                                          # a valid sighting
    assert not any("nhi" in b.meta for b in part.blocks)
    json.dumps(found)


def test_evidence_sightings_point_at_the_lines_that_show_them(partitioned):
    """The record's source lines hold the identity (or, for a role, its session; for a k8s token its name)."""
    for name in ("files/mlp-train-gpu-04_auth.log", "files2/keel-prod-euw1_kube-apiserver-audit_2026-02-03.jsonl",
                 "files3/cloudtrail_nfs-ml-prod_ca-central-1_20260925-27.json"):
        lines = (DATASETS / name).read_text().split("\n")
        for d in partitioned(name).nhi:
            src = "\n".join(lines[d["line_start"] - 1:d["line_end"]])
            needle = d["identity"].rsplit("/", 1)[-1].rsplit(":", 1)[-1]
            assert needle in src, (name, d["identity"], d["line_start"])


def test_no_secret_value_reaches_a_sighting(partitioned):
    for name in EVIDENCE:
        raw = (DATASETS / name).read_text(encoding="utf-8-sig")
        secrets = {m.group(2) for m in SECRET_KEYS.finditer(raw.replace('\\"', '"'))}
        dumped = json.dumps(partitioned(name).nhi)
        leaked = [s for s in secrets if s in dumped]
        assert not leaked, (name, leaked[:3])


def test_aliases_name_one_identity_only(partitioned):
    """The inventory merges sightings of one kind that share a name (identity or alias): across all the evidence
    files an alias never names two identities of its kind, nor another identity of that kind."""
    owners: dict[tuple[str, str], set[str]] = {}
    identities = set()
    for name in EVIDENCE:
        for d in partitioned(name).nhi:
            identities.add((d["kind"], d["identity"]))
            for a in d["aliases"]:
                owners.setdefault((d["kind"], a), set()).add(d["identity"])
    assert owners
    clashes = {a: v for a, v in owners.items() if len(v) > 1 or (a in identities and a[1] not in v)}
    assert not clashes


def test_evidence_human_use_and_privilege(partitioned):
    """Facts the files show: people using machine identities, and machine identities holding admin rights."""
    def pick(name, identity, **match):
        return [d for d in partitioned(name).nhi if d["identity"] == identity
                and all(d.get(k) == v for k, v in match.items())]

    # a person minted a token for the runtime service account and used it from a laptop
    assert pick("files/aks-scribe-prod_kube-audit_2025-12-02.jsonl", "system:serviceaccount:scribe:scribe-runtime",
                human_use=True, human="jonah.feld@kestrelhealth.example", credential_event="created")
    # cluster-admin granted to, and used by, the CI deployer
    assert pick("files/aks-scribe-prod_kube-audit_2025-12-02.jsonl", "system:serviceaccount:cicd:ci-deployer",
                privileged=True, actor=True)
    # a person assumed the pipeline role and used its session
    assert len(pick("files3/cloudtrail_nfs-ml-prod_ca-central-1_20260925-27.json",
                    "arn:aws:iam::418205377611:role/sagemaker-pipeline-exec", human_use=True,
                    human="kpatel@northgatefreight.ca")) >= 5
    # sudo -u / su into service accounts; password logins to one
    assert pick("files/mlp-train-gpu-04_auth.log", "svc-train-sync", human_use=True,
                human="jonah_feld_kestrelhealth_example")
    assert pick("files3/rw-batch-01_auth.log", "svc-etl", human_use=True, action="sshd Accepted password")
    assert pick("files3/rw-batch-01_auth.log", "svc-routeopt", credential_event="created", human="kpatel")
    # an expired partner account still tried; AdministratorAccess attached to a role
    assert pick("files2/sftp-claims-ingest-01_auth.log", "adj-lowther", credential_event="used_after_expiry")
    assert pick("files2/cloudtrail_lookup-events_tm-keel-prod_iam-secretsmanager_2026-01-12_16.json",
                "arn:aws:iam::482917305561:role/keel-argo-workflows", privileged=True)
    # key lifecycle with key ids
    assert pick("files/gcp_audit_iam_kha-mlp-prod_2025-11.json", "dvc-remote-sync@kha-mlp-prod.iam.gserviceaccount.com",
                credential_event="deleted", credential="b18621cb4da9ae3db44df17af92d684304ac45b4")
    assert pick("files2/vault-prod_audit_2026-01-14.jsonl", "claims-etl", credential_event="deleted")


def test_a_document_without_records_is_read_for_the_identities_it_names(tmp_path):
    path = tmp_path / "note.txt"
    path.write_text("Finding F2: service account svc-retrain-old of the retired model still holds a key.\n\n"
                    "It assumes arn:aws:iam::111122223333:role/etl-runner nightly.\n")
    part = partition(path, TEXT, "utf-8")
    assert part.kind == "text"
    got = {(d["identity"], d["kind"], d["action"], d.get("actor", True)) for d in part.nhi}
    assert got == {("svc-retrain-old", "other", "named in the document", False),
                   ("arn:aws:iam::111122223333:role/etl-runner", "aws_iam_role", "mentioned in the document", False)}
    # a policy that speaks of machine identities without naming one names none
    policy = tmp_path / "policy.md"
    policy.write_text("# Machine identities\n\nService accounts must have an owner. Deploy keys are read-only. "
                      "IAM users for software are not allowed; use an IAM role with a 1-hour session. API keys "
                      "are rotated every 90 days (see ISO/IEC 42001 A.6.2.6 and STD-SEC-07).\n")
    assert partition(policy, "text/markdown", "utf-8").nhi == []
