"""The `clausewise` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from api import cli_governance
from catalog import FRAMEWORKS, load_catalog
from core.settings import Settings

# Tracebacks never show local variables (they would print settings, keys and document text into a terminal log).
_TYPER = {"no_args_is_help": True, "pretty_exceptions_show_locals": False}
app = typer.Typer(add_completion=False, help="Clausewise: evidence to controls.", **_TYPER)
catalog_app = typer.Typer(help="Inspect the control catalog and crosswalks.", **_TYPER)
db_app = typer.Typer(help="Database migrations.", **_TYPER)
eval_app = typer.Typer(help="Evaluation runs on labelled evidence sets.", **_TYPER)
app.add_typer(catalog_app, name="catalog")
app.add_typer(db_app, name="db")
app.add_typer(eval_app, name="eval")
keys_app = typer.Typer(help="API keys (shown once at creation; stored hashed).", **_TYPER)
ledger_app = typer.Typer(help="The append-only decisions ledger.", **_TYPER)
app.add_typer(keys_app, name="keys")
app.add_typer(ledger_app, name="ledger")


@catalog_app.command("stats")
def catalog_stats(as_json: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """Print framework and crosswalk counts."""
    cat = load_catalog()
    stats = cat.stats()
    if as_json:
        typer.echo(json.dumps(stats))
        return
    typer.echo(f"catalog version {cat.version}")
    for key, counts in stats.items():
        typer.echo(f"{key}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@catalog_app.command("show")
def catalog_show(
    control_id: str,
    framework: str = typer.Option(None, "--framework", "-f", help=f"One of {', '.join(FRAMEWORKS)}"),
    max_hops: int = typer.Option(1, "--hops", min=1, max=3),
) -> None:
    """Print one control with its crosswalk neighbours."""
    cat = load_catalog()
    if framework:
        fw = cat.frameworks.get(framework)
        found = [fw.controls[control_id]] if fw and control_id in fw.controls else []
    else:
        found = cat.find(control_id)
    if not found:
        typer.echo(f"error: no control {control_id!r}" + (f" in {framework}" if framework else ""), err=True)
        raise typer.Exit(2)
    if len(found) > 1:
        typer.echo(f"error: {control_id!r} is in several frameworks; pass --framework", err=True)
        raise typer.Exit(2)
    c = found[0]
    typer.echo(f"{c.framework} {c.id}  {c.title}")
    typer.echo(f"  type: {c.type}{'  (requirement)' if c.requirement else ''}   parent: {c.parent or '-'}")
    typer.echo(f"  {c.text}")
    if c.evidence:
        typer.echo(f"  evidence: {c.evidence}")
    for ex in c.examples:
        typer.echo(f"  - {ex}")
    paths = cat.neighbours(c.framework, c.id, max_hops=max_hops)
    typer.echo(f"neighbours ({len(paths)}):")
    for p in paths:
        end = p[-1]
        chain = " -> ".join(f"{h.relationship} {h.to_framework} {h.to_id}" for h in p)
        typer.echo(f"  {end.to_framework} {end.to_id}  [{chain}]  ({p[-1].provenance[:80]})")
    attribution = cat.frameworks[c.framework].attribution
    if attribution:
        typer.echo(f"source: {attribution}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations to the configured database."""
    from core.db import upgrade

    settings = Settings()
    settings.ensure_dirs()
    upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {revision}: {settings.public_summary()['database']}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations to a revision (`base` empties the database)."""
    from core.db import downgrade

    settings = Settings()
    if _embedded_database(settings) and not (settings.data_dir / "clausewise.db").exists():
        raise CliError(f"no database in {settings.data_dir.resolve()}: nothing to downgrade (`clausewise db upgrade` "
                       "creates one)")
    downgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {revision}")


class CliError(Exception):
    """An expected failure: printed as one line `error: ...`, exit code 1."""


def _embedded_database(settings: Settings) -> bool:
    return not settings.database_url


def _runtime_settings(*, schema: bool = True) -> Settings:
    """Settings with the data directory made; with `schema`, a database at the newest migration: the embedded
    SQLite database is created or migrated here, a configured server database is only checked (say what to run)."""
    from core.db import current_revision, head_revision, upgrade

    settings = Settings()
    settings.ensure_dirs()
    if not schema:
        return settings
    url = settings.resolved_database_url
    current, head = current_revision(url), head_revision()
    if current == head:
        return settings
    if _embedded_database(settings):
        upgrade(url)
        if current is None:
            typer.echo(f"clausewise: created the database in {settings.data_dir.resolve()}", err=True)
        return settings
    where = settings.public_summary()["database"]
    state = "has no schema" if current is None else f"is at revision {current}, this version needs {head}"
    raise CliError(f"the database {where} {state}: run `clausewise db upgrade`")


@app.command("serve")
def serve(
    host: str = typer.Option(None, help="Bind address (default from settings)"),
    port: int = typer.Option(None, help="Port (default from settings)"),
    worker: bool = typer.Option(True, help="Also start a Celery worker process on the configured broker"),
) -> None:
    """Run the API and a Celery worker on the configured stores (embedded: SQLite, and a Chroma server on the
    data directory that the API, the worker and the CLI share). Restarts a child that dies."""
    import signal

    import uvicorn

    from api.app import create_app
    from core.db import upgrade
    from core.telemetry import configure_logging
    from worker import local

    settings = _runtime_settings(schema=False)   # it runs the migrations itself, on any database
    configure_logging(settings.log_level, settings.log_json)
    upgrade(settings.resolved_database_url)
    typer.echo(f"clausewise: {settings.public_summary()}", err=True)
    _bootstrap_admin_key(settings)
    try:
        services = local.start(settings, worker=worker)
    except RuntimeError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    # uvicorn re-raises the SIGTERM it caught once it has shut down; with the default action that would end this
    # process before the children are stopped. A handler of ours turns it into an exit through `finally`.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(create_app(services.settings, supervisor=services.supervisor), host=host or settings.host,
                    port=port or settings.port, log_level=settings.log_level.lower(), log_config=None,
                    access_log=False)  # ours has ids
    finally:
        services.stop()


def _exit_on_sigterm(signum, _frame) -> None:
    raise SystemExit(128 + signum)


@app.command("worker")
def worker(
    pool: str = typer.Option("solo", help="Celery pool: solo (one job at a time, run N workers) or prefork"),
    concurrency: int = typer.Option(1, help="Processes for the prefork pool"),
    loglevel: str = typer.Option("INFO"),
) -> None:
    """Run a Celery worker: loads the embedding model once, then takes ingestion jobs."""
    import os

    from celery.signals import setup_logging, worker_process_init, worker_ready

    from core.runtime import Runtime
    from core.telemetry import REGISTRY, configure_logging
    from ingest.partition import warm_up
    from worker import outbox, recovery
    from worker.celery_app import make_celery
    from worker.flows import get_classifier
    from worker.tasks import register_tasks

    settings = _runtime_settings()
    # our JSON lines instead of Celery's own logging set-up
    setup_logging.connect(lambda **_: configure_logging(settings.log_level, settings.log_json), weak=False)
    capp = make_celery(settings)
    register_tasks(capp, lambda: Runtime(settings))  # built in each pool process on its first task (after fork)
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=REGISTRY)
    ready_file = os.environ.get("CLAUSEWISE_READY_FILE")

    def _ready(**_):  # consuming now: the outbox dispatcher and the recovery sweep start, `serve` learns it is up
        sweeper = Runtime(settings)  # the main process's own handles, never shared with a forked pool process
        outbox.OutboxThread(lambda: sweeper, outbox.celery_sender(capp), outbox.interval(settings)).start()
        recovery.RecoveryThread(lambda: sweeper, recovery.celery_publisher(capp), recovery.interval(settings)).start()
        if ready_file:
            Path(ready_file).write_text(str(os.getpid()))

    worker_ready.connect(_ready, weak=False)

    def _warm(**_):
        warm_up()
        get_classifier(settings)  # loads the model and the control index now, not on the first job

    if pool == "solo":
        _warm()
    else:
        worker_process_init.connect(_warm, weak=False)
    capp.worker_main(["worker", "-P", pool, "-c", str(concurrency), "-Q", settings.queue_name,
                      "--loglevel", loglevel, "-n", f"clausewise-{os.getpid()}@%h", "--without-gossip",
                      "--without-mingle"])


@app.command("ingest")
def ingest(
    paths: list[Path] = typer.Argument(..., exists=True, dir_okay=True, help="Files or folders to ingest"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per document"),
) -> None:
    """Ingest local files in this process (no broker needed) and print each document's id and status."""
    from tqdm import tqdm

    from core.db import upgrade
    from core.errors import ClausewiseError
    from core.models import DEFAULT_TENANT_ID
    from core.runtime import Runtime
    from ingest import service
    from ingest.intake import ingest_local_file
    from ingest.partition import warm_up
    from worker.flows import ingest_and_classify_many

    settings = _runtime_settings(schema=False)   # it runs the migrations itself, on any database
    upgrade(settings.resolved_database_url)
    rt = Runtime(settings)
    warm_up()
    files = sorted({f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()})
    failures = 0
    bar = tqdm(total=len(files), unit="file", disable=as_json or not sys.stderr.isatty(), file=sys.stderr)

    def report(row: dict) -> None:
        nonlocal failures
        failures += row["status"] in ("failed", "rejected")
        bar.update(1)
        if as_json:
            typer.echo(json.dumps(row))
        else:
            tail = f"  {row['error_code']}" if row.get("error_code") else f"  chunks={row.get('chunks')}"
            tqdm.write(f"{row['document_id'] or '-':36}  {row['status']:9}{tail}  {row['file']}", file=sys.stdout)

    jobs, by_doc = [], {}
    for f in files:
        try:
            reg = ingest_local_file(f, db=rt.db, blobs=rt.blobs, tenant_id=DEFAULT_TENANT_ID,
                                    max_bytes=settings.max_upload_bytes)
        except ClausewiseError as e:
            report({"file": str(f), "document_id": None, "status": "rejected", "error_code": e.code.value,
                    "detail": e.detail})
            continue
        by_doc[reg.document.id] = (f, reg.duplicate)
        if reg.job is not None:
            jobs.append((reg.document.id, reg.job.id))

    def done(document_id: str, _job_id: str | None = None, _status: str | None = None):
        f, duplicate = by_doc[document_id]
        doc = service.get_document(db=rt.db, tenant_id=DEFAULT_TENANT_ID, document_id=document_id)
        report({"file": str(f), "document_id": document_id, "status": doc["status"],
                "error_code": doc["error_code"], "chunks": doc["chunk_count"], "kind": doc["kind"],
                "duplicate": duplicate})

    for document_id, (_f, duplicate) in by_doc.items():
        if duplicate:
            done(document_id)
    ingest_and_classify_many(rt, jobs, on_done=done)  # the workers' flow: ingest, then classify
    bar.close()
    raise typer.Exit(1 if failures else 0)


@app.command("suggest")
def suggest(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A local evidence file"),
    top: int = typer.Option(5, help="Suggestions per framework"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Print the suggested controls for a local file (nothing is stored)."""
    from catalog import load_catalog
    from classifiers.suggest import Classifier
    from core.embedder import get_embedder
    from core.errors import ClausewiseError
    from eval.dataset import chunks_of_file

    try:
        texts, kind = chunks_of_file(file)
    except ClausewiseError as e:
        typer.echo(f"error: {e.code.value}: {e.detail}", err=True)
        raise typer.Exit(2) from None
    emb = get_embedder()
    cat = load_catalog()
    settings = Settings()
    clf = Classifier(cat, emb, cache_dir=settings.data_dir / "cache")
    result = clf.classify(texts, emb.embed(texts), kind)
    rows = [d for d in result.drafts if d.rank <= top]
    if as_json:
        typer.echo(json.dumps([{**d.__dict__, "quote": texts[d.chunk_index][:300]} for d in rows]))
        return
    typer.echo(f"{file.name}: {len(texts)} chunks, kind {kind or 'text'}, classifier {clf.version}")
    typer.echo(f"{'framework':22} {'#':>2}  {'control':10} {'conf':>5}  {'state':12} {'title':40} quote")
    for d in rows:
        title = cat.control(d.framework, d.control_id).title[:40]
        quote = " ".join(texts[d.chunk_index].split())[:60]
        typer.echo(f"{d.framework:22} {d.rank:>2}  {d.control_id:10} {d.confidence:5.2f}  {d.state:12} "
                   f"{title:40} {quote}")


@eval_app.command("run")
def eval_run(
    dataset: Path = typer.Option(..., "--dataset", exists=True, dir_okay=False, help="Labelled JSON Lines"),
    frameworks: list[str] = typer.Option(None, "--frameworks", help="Label keys: iso42001, nist_csf_2, nhi"),
    json_out: Path = typer.Option(None, "--json", help="Write the run as JSON here"),
    report: Path = typer.Option(None, "--report", help="Write report.md/.html and PNG plots into this folder"),
    fail_under: list[str] = typer.Option(None, "--fail-under", help="e.g. nist_csf_2.hit@5=0.88 (repeatable)"),
) -> None:
    """Score the classifier and baselines on a labelled set (supervised parts cross-validated)."""
    from eval.report import write_report
    from eval.run import check_fail_under, run, write_json

    result = run(dataset, frameworks or None, progress=sys.stderr.isatty())
    if json_out:
        write_json(result, json_out)
    if report:
        typer.echo(f"report: {write_report(result, report)}", err=True)
    typer.echo(f"{'framework':12}" + "".join(f"{m:>12}" for m in ("n", "hit@1", "hit@5", "mrr", "ece", "micro_f1")))
    for key, m in result["frameworks"].items():
        typer.echo(f"{key:12}" + "".join(f"{str(m.get(k, '-')):>12}" for k in ("n", "hit@1", "hit@5", "mrr", "ece",
                                                                                   "micro_f1")))
        for name in ("bm25", "dense_zero_shot"):
            b = result["baselines"][name].get(key, {})
            typer.echo(f"  {name:16}" + f"{b.get('n', ''):>6}" + "".join(
                f"{str(b.get(k, '-')):>12}" for k in ("hit@1", "hit@5", "mrr")))
    failed = check_fail_under(result, fail_under or [])
    for f in failed:
        typer.echo(f"FAIL {f}", err=True)
    raise typer.Exit(1 if failed else 0)


@eval_app.command("files")
def eval_files(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="A folder with files and manifest.jsonl"),
    json_out: Path = typer.Option(None, "--json", help="Write the result (with per-file rankings) here"),
) -> None:
    """Score a folder of realistic files in-process: real partitioners, shipped classifier, primary@3/hit@5/MRR."""
    from eval.files import score_folder

    result = score_folder(folder)
    if json_out:
        json_out.write_text(json.dumps(result, indent=1))
    typer.echo(f"{folder}: {result['good_indexed']}/{result['good']} good files indexed, "
               f"{result['bad_refused_with_code']}/{result['bad']} bad files refused with a code "
               f"({result['seconds']} s, {result['classifier_version']})")
    if result["examples_left_out"]:
        typer.echo("the shipped example bank learned from these files: left out its set(s) "
                   + ", ".join(result["examples_left_out"]) + " (leave-one-set-out figures)")
    typer.echo(f"{'framework':12}{'n':>5}{'primary@3':>11}{'hit@5':>8}{'mrr':>8}")
    rows = [*result["frameworks"].items(), ("iso clauses", result["iso_clause_primary"])]
    for key, m in rows:
        typer.echo(f"{key:12}{m.get('n', 0):>5}" + "".join(
            f"{'-' if m.get(k) is None else m[k]:>{w}}" for k, w in (("primary@3", 11), ("hit@5", 8), ("mrr", 8))))


@eval_app.command("nhi")
def eval_nhi(
    dataset: Path = typer.Option(..., "--dataset", exists=True, dir_okay=False,
                                 help="A labelled inventory (JSON Lines), e.g. eval/datasets/nhi/inventory.jsonl"),
    root: Path = typer.Option(None, "--root", help="Folder its `file` paths are relative to (default: the "
                                                  "dataset folder's parent)"),
    json_out: Path = typer.Option(None, "--json", help="Write the whole result (per file, per kind) here"),
) -> None:
    """Score NHI extraction against a labelled inventory: precision and recall per kind, first/last seen,
    credential events."""
    from eval.nhi import evaluate

    result = evaluate(dataset, root)
    if json_out:
        json_out.write_text(json.dumps(result, indent=1))
    typer.echo(f"{dataset}: {result['labelled']} labelled identities in {result['files']} files; "
               f"precision {result['precision']}, recall {result['recall']}; of {result['matched']} matched: "
               f"first seen same day {result['first_seen_same_day']}, last seen {result['last_seen_same_day']}, "
               f"credential events found {result['credential_events_recall']}")
    typer.echo(f"{'kind':28}{'precision':>10}{'recall':>8}{'tp':>5}{'fp':>5}{'fn':>5}")
    for kind, m in result["per_kind"].items():
        typer.echo(f"{kind:28}{'-' if m['precision'] is None else m['precision']:>10}"
                   f"{'-' if m['recall'] is None else m['recall']:>8}{m['tp']:>5}{m['fp']:>5}{m['fn']:>5}")


@eval_app.command("compare")
def eval_compare(run_a: Path = typer.Argument(..., exists=True),
                 run_b: Path = typer.Argument(..., exists=True)) -> None:
    """Print metric deltas between two runs (B - A)."""
    from eval.run import compare

    a, b = json.loads(run_a.read_text()), json.loads(run_b.read_text())
    typer.echo(f"{'framework':12}{'metric':>14}{'A':>10}{'B':>10}{'delta':>10}")
    for key, metric, va, vb, d in compare(a, b):
        show = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        typer.echo(f"{key:12}{metric:>14}{show(va):>10}{show(vb):>10}{show(d):>10}")


def _bootstrap_admin_key(settings: Settings) -> None:
    """On a database with no keys at all, create one admin key for the default tenant and say where it is."""
    from core.auth import create_key, has_keys
    from core.db import Database

    db = Database.from_settings(settings)
    try:
        if has_keys(db):
            return
        _, key = create_key(db, tenant="default", role="admin", name="bootstrap admin")
    finally:
        db.dispose()
    path = settings.data_dir.resolve() / "admin.key"
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    typer.echo(f"clausewise: no API keys existed; created an admin key for tenant 'default' (saved to {path}):\n"
               f"  {key}\nUse it as 'Authorization: Bearer <key>'; create others with 'clausewise keys create'.",
               err=True)


@keys_app.command("create")
def keys_create(
    tenant: str = typer.Option("default", "--tenant", help="Tenant slug (created if new)"),
    role: str = typer.Option(..., "--role", help="uploader, reviewer, auditor or admin"),
    name: str = typer.Option(None, "--name", help="Who or what holds the key"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an API key and print it (the only time it is shown)."""
    from core.auth import create_key
    from core.db import Database
    from core.errors import ClausewiseError

    db = Database.from_settings(_runtime_settings())
    try:
        row, key = create_key(db, tenant=tenant, role=role, name=name)
    except ClausewiseError as e:
        typer.echo(f"error: {e.detail}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps({"key": key, "id": row.id, "tenant_id": row.tenant_id, "role": row.role}))
    else:
        typer.echo(key)


@keys_app.command("revoke")
def keys_revoke(key_id: str, tenant: str = typer.Option("default", "--tenant")) -> None:
    """Revoke a key by id."""
    from core.auth import ensure_tenant, revoke_key
    from core.db import Database

    db = Database.from_settings(_runtime_settings())
    try:
        typer.echo(json.dumps(revoke_key(db, ensure_tenant(db, tenant, create=False).id, key_id)))
    finally:
        db.dispose()


@ledger_app.command("verify")
def ledger_verify(tenant: str = typer.Option(None, "--tenant", help="One tenant slug or id (default: all)")) -> None:
    """Recompute every tenant's hash chain; exit 1 if any row was changed, removed or re-linked."""
    from core.auth import ensure_tenant
    from core.db import Database
    from review import ledger

    db = Database.from_settings(_runtime_settings())
    try:
        tenants = [ensure_tenant(db, tenant, create=False).id] if tenant else ledger.tenants_with_decisions(db)
        results = [ledger.verify(db, t).public() for t in tenants]
    finally:
        db.dispose()
    ok = all(r["ok"] for r in results)
    typer.echo(json.dumps({"ok": ok, "tenants": results}, indent=2))
    raise typer.Exit(0 if ok else 1)


@app.command("export-labels")
def export_labels_cmd(
    out: Path = typer.Option(..., "--out", help="JSON Lines file to write (evaluation-set format)"),
    tenant: str = typer.Option("default", "--tenant"),
) -> None:
    """Write confirmed and rejected reviewer decisions as a labelled evaluation set."""
    from core.auth import ensure_tenant
    from core.db import Database
    from review.exports import export_labels, write_jsonl

    db = Database.from_settings(_runtime_settings())
    try:
        items = export_labels(db=db, tenant_id=ensure_tenant(db, tenant, create=False).id)
    finally:
        db.dispose()
    with out.open("w", encoding="utf-8") as fh:
        write_jsonl(items, fh)
    typer.echo(f"wrote {len(items)} labelled item(s) to {out}", err=True)


@app.command("reconcile")
def reconcile_cmd(
    dry_run: bool = typer.Option(False, "--dry-run", help="Report only; change nothing"),
    grace: float = typer.Option(None, "--grace", help="Seconds a started job counts as alive (default: the job "
                                                      "time limit); 0 after a crash of every worker"),
) -> None:
    """Repair disagreements between SQL and the vector store (orphan or missing vectors), and take back jobs
    that no live worker runs (lease expired, or never delivered within the job time limit)."""
    from core.runtime import Runtime
    from ingest.reconcile import reconcile
    from worker.celery_app import make_celery
    from worker.recovery import celery_publisher, sweep

    rt = Runtime(_runtime_settings())
    try:
        report = reconcile(rt, dry_run=dry_run, grace_s=grace).as_dict()
        publish = None if dry_run or rt.settings.task_always_eager else celery_publisher(make_celery(rt.settings))
        report["stuck_jobs"] = sweep(rt, publish, include_unleased=True, dry_run=dry_run)
    finally:
        rt.close()
    typer.echo(json.dumps(report))


cli_governance.register(app, _runtime_settings)
nhi_app = typer.Typer(help="The NHI inventory read from the evidence.", **_TYPER)
app.add_typer(nhi_app, name="nhi")


@nhi_app.command("list")
def nhi_list(tenant: str = typer.Option("default", "--tenant"), kind: str = typer.Option(None, "--kind"),
             risk: str = typer.Option(None, "--risk", help="NHI1..NHI10"),
             as_json: bool = typer.Option(False, "--json", help="Every item as JSON"),
             csv_out: Path = typer.Option(None, "--csv", help="Write the whole inventory as CSV here")) -> None:
    """The machine identities read from this workspace's evidence, most recently seen first."""
    from api.routes.nhi import to_csv
    from core.auth import ensure_tenant
    from core.db import Database
    from ingest.nhi import inventory

    settings = _runtime_settings()
    db = Database.from_settings(settings)
    try:
        data = inventory.inventory(db, ensure_tenant(db, tenant, create=False).id, kind=kind, risk=risk,
                                   page=1, page_size=10**9, rotation_days=settings.nhi_rotation_days,
                                   stale_days=settings.nhi_stale_days)
    finally:
        db.dispose()
    if csv_out:
        csv_out.write_text(to_csv(data["items"]), encoding="utf-8")
        typer.echo(f"wrote {data['total']} identities to {csv_out}", err=True)
    elif as_json:
        typer.echo(json.dumps(data, indent=1))
    else:
        for it in data["items"]:
            typer.echo(f"{it['kind']:26} {it['identity'][:70]:70} {(it['last_seen'] or '-')[:10]:10} "
                       f"{' '.join(it['risks'])}")
        typer.echo(f"{data['total']} identities", err=True)


def _one_line(exc: BaseException) -> str | None:
    """The one-line message for an expected failure, or None for a bug (which keeps its traceback)."""
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from core.errors import ClausewiseError

    if isinstance(exc, CliError):
        return f"error: {exc}"
    if isinstance(exc, ClausewiseError):
        return f"error: {exc.code.value}: {exc.detail}"
    if isinstance(exc, ValidationError):
        fields = ", ".join(".".join(str(p) for p in e["loc"]) + f" ({e['msg']})" for e in exc.errors())
        return f"error: invalid settings: {fields}"
    if isinstance(exc, (OperationalError, ProgrammingError)):
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
        if "no such table" in reason or "does not exist" in reason and "relation" in reason:
            return f"error: the database has no schema ({reason}): run `clausewise db upgrade`"
        return (f"error: the database could not be used ({reason}); check CLAUSEWISE_DATABASE_URL and that the "
                "server is running")
    if isinstance(exc, json.JSONDecodeError):
        return f"error: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return f"error: a server could not be reached ({exc}); check the configured URLs and that it is running"
    if isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return f"error: {exc.strerror or exc}: {exc.filename}"
    return None


def main() -> None:
    """Run the CLI; an expected failure (bad settings, missing schema, unreachable server, unknown id) prints one
    line and exits 1 (2 for invalid settings); only a bug prints a traceback (never with local variables)."""
    from pydantic import ValidationError

    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:
        line = _one_line(exc)
        if line is None:
            raise
        typer.echo(line, err=True)
        sys.exit(2 if isinstance(exc, ValidationError) else 1)


if __name__ == "__main__":
    main()
