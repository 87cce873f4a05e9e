"""The decisions ledger on SQLite and PostgreSQL: hash chain, database-enforced append-only, tamper detection."""

from __future__ import annotations

import concurrent.futures as cf
import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from core.db import Database, upgrade
from core.models import DEFAULT_TENANT_ID, Document, Suggestion, new_id
from review import ledger


def seed(db: Database, tenant_id: str = DEFAULT_TENANT_ID, n: int = 3) -> list[Suggestion]:
    """One indexed document with n suggestions, written straight to the tables."""
    doc = Document(id=new_id(), tenant_id=tenant_id, sha256=new_id().replace("-", "")[:64].ljust(64, "0"),
                   size_bytes=10, filename="policy.md", detected_type="text/markdown", storage_key="x",
                   status="indexed")
    sgs = [Suggestion(id=new_id(), tenant_id=tenant_id, document_id=doc.id, run_id="r1",
                      framework="ISO-IEC-42001-2023", control_id=cid, rank=i + 1, raw_score=0.5, confidence=0.7,
                      state="suggested", source="retrieval", quote=f"quoted evidence {i}", features={},
                      classifier_version="clf-v1", embedder_id="e", catalog_version="cat-v1", config_hash="h")
           for i, cid in enumerate(["A.2.2", "A.6.2.4", "5.2", "A.9.2", "6.1.2"][:n])]
    with db.session() as s:
        s.add(doc)
        s.flush()
        s.add_all(sgs)
    return sgs


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    upgrade(url)
    d = Database(url)
    yield d
    d.dispose()


def _decide_three(db):
    sgs = seed(db)
    ledger.append(db, tenant_id=DEFAULT_TENANT_ID, suggestion=sgs[0], decision="confirm", actor="rev",
                  actor_key_id=None)
    ledger.append(db, tenant_id=DEFAULT_TENANT_ID, suggestion=sgs[1], decision="reject", actor="rev",
                  actor_key_id=None, reason_code="wrong_control", comment="about retention, not access")
    ledger.append(db, tenant_id=DEFAULT_TENANT_ID, suggestion=sgs[0], decision="reject", actor="rev2",
                  actor_key_id=None, reason_code="stale")
    return sgs


def test_chain_links_and_supersedes(db):
    sgs = _decide_three(db)
    v = ledger.verify(db, DEFAULT_TENANT_ID)
    assert v.ok and v.rows == 3, v.public()
    with db.session() as s:
        rows = s.execute(text("select seq, suggestion_id, supersedes_id, prev_hash, row_hash, decision "
                              "from decisions order by seq")).all()
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == ledger.genesis_hash(DEFAULT_TENANT_ID)
    assert rows[1].prev_hash == rows[0].row_hash and rows[2].prev_hash == rows[1].row_hash
    # the later decision on suggestion 0 supersedes the first, which is still there
    assert rows[2].suggestion_id == sgs[0].id and rows[2].decision == "reject"
    with db.session() as s:
        first_id = s.execute(text("select id from decisions where seq = 1")).scalar()
    assert rows[2].supersedes_id == first_id


def test_update_and_delete_are_refused_by_the_database(db):
    _decide_three(db)
    for stmt in ("update decisions set comment = 'edited' where seq = 2", "delete from decisions where seq = 1"):
        with pytest.raises(Exception, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(stmt))
    assert ledger.verify(db, DEFAULT_TENANT_ID).ok
    with db.session() as s:
        assert s.execute(text("select count(*) from decisions")).scalar() == 3


def _without_triggers(db, stmt: str) -> None:
    """What someone with DBA rights could do behind the app's back: drop the guard, change a row, restore it."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("alter table decisions disable trigger user"))
            conn.execute(text(stmt))
            conn.execute(text("alter table decisions enable trigger user"))
        else:
            conn.execute(text("drop trigger decisions_no_update"))
            conn.execute(text("drop trigger decisions_no_delete"))
            conn.execute(text(stmt))
            from importlib import import_module

            for t in import_module("core.migrations.versions.0005_review").SQLITE_TRIGGERS:
                conn.execute(text(t))


@pytest.mark.parametrize("stmt,problem", [
    ("update decisions set comment = 'nothing to see' where seq = 2", "row_changed"),
    ("update decisions set decision = 'confirm', reason_code = NULL where seq = 3", "row_changed"),
    ("delete from decisions where seq = 2", "broken_link"),
])
def test_tampering_behind_the_apps_back_is_detected(db, stmt, problem, tmp_path, monkeypatch):
    _decide_three(db)
    _without_triggers(db, stmt)
    v = ledger.verify(db, DEFAULT_TENANT_ID)
    assert not v.ok and problem in {p["problem"] for p in v.problems}, v.public()
    # the CLI says so too, with a failing exit status
    from api.cli import app

    monkeypatch.setenv("CLAUSEWISE_DATABASE_URL", db.url)
    monkeypatch.setenv("CLAUSEWISE_DATA_DIR", str(tmp_path / "cli"))
    res = CliRunner().invoke(app, ["ledger", "verify"])
    assert res.exit_code == 1, res.output
    out = json.loads(res.output)
    assert out["ok"] is False and out["tenants"][0]["problems"]


def test_edited_evidence_under_a_decision_is_detected(db):
    sgs = _decide_three(db)
    with db.engine.begin() as conn:
        conn.execute(text("update suggestions set quote = 'a different quote' where id = :i"), {"i": sgs[1].id})
    problems = ledger.verify(db, DEFAULT_TENANT_ID).problems
    assert [p["problem"] for p in problems] == ["evidence_changed"] and problems[0]["suggestion_id"] == sgs[1].id


def test_verify_cli_passes_on_an_untouched_ledger(db, tmp_path, monkeypatch):
    _decide_three(db)
    from api.cli import app

    monkeypatch.setenv("CLAUSEWISE_DATABASE_URL", db.url)
    monkeypatch.setenv("CLAUSEWISE_DATA_DIR", str(tmp_path / "cli"))
    res = CliRunner().invoke(app, ["ledger", "verify"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["tenants"][0]["rows"] == 3


def test_concurrent_writers_never_fork_the_chain(db):
    sgs = seed(db, n=5)

    def one(i):
        return ledger.append(db, tenant_id=DEFAULT_TENANT_ID, suggestion=sgs[i % 5], decision="confirm",
                             actor=f"rev{i}", actor_key_id=None).seq

    with cf.ThreadPoolExecutor(8) as pool:
        seqs = sorted(pool.map(one, range(24)))
    assert seqs == list(range(1, 25))
    v = ledger.verify(db, DEFAULT_TENANT_ID)
    assert v.ok and v.rows == 24, v.public()


def test_the_database_refuses_a_second_row_on_the_same_chain_head(db):
    """What stops a fork when writers of different processes race: unique (tenant, prev_hash) and (tenant, seq)."""
    from sqlalchemy.exc import IntegrityError

    _decide_three(db)
    with db.session() as s:
        row = dict(s.execute(text("select * from decisions where seq = 3")).mappings().one())
    for change in ({"seq": 4}, {"prev_hash": "f" * 64}):  # same head, or same seq
        forged = {**row, "id": "forged-" + next(iter(change)), **change}
        with pytest.raises(IntegrityError):
            with db.engine.begin() as conn:
                conn.execute(text(f"insert into decisions ({', '.join(forged)}) "
                                  f"values ({', '.join(':' + k for k in forged)})"), forged)
    assert ledger.verify(db, DEFAULT_TENANT_ID).rows == 3
