"""The ingestion path for one document: partition → split records → chunk → embed → index.

Vectors are written before the SQL commit that marks the document indexed, so a crash can leave orphan vectors
(which `reconcile` removes) but never an indexed document without vectors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete

from core.embedder import EMBEDDER_ID
from core.errors import ClausewiseError, ErrorCode
from core.models import Chunk, Document, DocumentStatus, Job, JobStage, utcnow
from core.runtime import Runtime
from ingest.chunking import CHUNKER_VERSION, ChunkSpec, chunk_blocks, chunk_id
from ingest.dates import stated_date
from ingest.nhi import inventory
from ingest.partition import Partitioned, block_from_dict, block_to_dict, partition
from ingest.sandbox import run_limited

log = logging.getLogger("clausewise.ingest")
EMBED_BATCH = 64
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class Limits:
    partition_timeout_s: float = 120.0
    partition_memory_bytes: int = 2 * 1024**3


def _partition_sandboxed(path, media_type: str, encoding: str | None, limits: Limits,
                         stats: dict | None = None) -> Partitioned:
    def work():
        p = partition(path, media_type, encoding)
        found = mask_secrets(p)   # in the sandbox: no secret value leaves it
        return {"kind": p.kind, "blocks": [block_to_dict(b) for b in p.blocks], "page_count": p.page_count,
                "record_count": p.record_count, "meta": {**p.meta, "secrets": found}, "nhi": p.nhi}

    out = run_limited(work, timeout_s=limits.partition_timeout_s, memory_bytes=limits.partition_memory_bytes,
                      stats=stats)
    return Partitioned(out["kind"], [block_from_dict(b) for b in out["blocks"]], out["page_count"],
                       out["record_count"], out["meta"], out.get("nhi") or [])


MAX_SECRET_FINDINGS = 500
_SIGHTING_TEXT = ("identity", "action", "credential", "owner", "workload", "source", "human")


def mask_secrets(p: Partitioned) -> list[dict]:
    """Replace every secret value in the extracted text (and in the NHI sightings) by a `[REDACTED:<type>]`
    marker before anything is chunked, embedded or stored; return where each was (type, detector, line, record,
    the access key id next to it), never the value."""
    from ingest.secrets import mask

    found: list[dict] = []
    for b in p.blocks:
        masked, findings = mask(b.text)
        if not findings:
            continue
        b.text = masked
        for f in findings:
            if len(found) < MAX_SECRET_FINDINGS:
                found.append({"type": f.type, "detector": f.detector, "key_id": f.key_id, "record": b.record_index,
                              "page": b.page, "line_in_block": f.line,
                              "line": (b.line_start + f.line - 1) if b.line_start is not None else None})
    for d in p.nhi:
        for k in _SIGHTING_TEXT:
            if isinstance(d.get(k), str):
                d[k] = mask(d[k])[0]
        if d.get("aliases"):
            d["aliases"] = [mask(a)[0] if isinstance(a, str) else a for a in d["aliases"]]
    return found


def _set_job(rt: Runtime, job_id: str, **values) -> None:
    with rt.db.session() as s:
        job = s.get(Job, job_id)
        for k, v in values.items():
            setattr(job, k, v)


def vector_metadata(doc: Document, c: ChunkSpec) -> dict:
    return {
        "tenant_id": doc.tenant_id, "document_id": doc.id, "idx": c.idx, "kind": c.kind,
        "char_start": c.char_start, "char_end": c.char_end, "page": c.page, "record_start": c.record_start,
        "line_start": c.line_start, "line_end": c.line_end,
        "ts_start": c.ts_start.isoformat() if c.ts_start else None, "chunker_version": CHUNKER_VERSION,
    }


def fail_document(rt: Runtime, document_id: str, job_id: str | None, code: ErrorCode, detail: str) -> None:
    """Record a failure with its stable code; vectors already written for this document are removed."""
    with rt.db.session() as s:
        doc = s.get(Document, document_id)
        if doc.status == DocumentStatus.indexed.value:
            return  # never demote an indexed document
        doc.status, doc.error_code, doc.error_detail = DocumentStatus.failed.value, code.value, detail[:2000]
        if job_id:
            job = s.get(Job, job_id)
            job.state, job.error_code, job.error_detail = DocumentStatus.failed.value, code.value, detail[:2000]
            job.finished_at = utcnow()
        tenant = doc.tenant_id
    try:
        stale = rt.vectors.ids(tenant, document_id=document_id)
        rt.vectors.delete(tenant, sorted(stale))
    except Exception:  # noqa: BLE001 - reconcile removes them later if the store is down now
        log.warning("could not remove vectors of failed document %s", document_id, exc_info=True)


@dataclass
class Prepared:
    """A document partitioned and chunked, ready to embed."""

    doc: Document
    job_id: str
    part: Partitioned
    specs: list[ChunkSpec]
    timings: dict


def _step(rt: Runtime, job_id: str, stage: JobStage, percent: int, timings: dict, progress: Progress | None) -> None:
    _set_job(rt, job_id, stage=stage, percent=percent, timings=dict(timings))
    if progress:
        progress(stage, percent)


def partition_and_chunk(path, media_type: str, encoding: str | None, limits: Limits, *, max_chunks: int,
                        timings: dict | None = None, after_partition: Callable[[], None] | None = None
                        ) -> tuple[Partitioned, list[ChunkSpec]]:
    """The database-free middle of prepare_document: partition a stored original in the sandbox, then chunk.

    Returns the partition and at least one chunk, or raises ClausewiseError with a stable code."""
    timings = {} if timings is None else timings
    t = time.perf_counter()
    child: dict = {}
    part = _partition_sandboxed(path, media_type, encoding, limits, child)
    timings["partition_s"] = round(time.perf_counter() - t, 4)
    timings["partition_cpu_s"] = child.get("cpu_s", 0.0)
    if after_partition:
        after_partition()
    t = time.perf_counter()
    _, specs = chunk_blocks(part.blocks)
    timings["chunk_s"] = round(time.perf_counter() - t, 4)
    if not specs:
        raise ClausewiseError(ErrorCode.no_text, "the document produced no chunks")
    if len(specs) > max_chunks:   # one 10 MB CSV field was 8,740 chunks and a minute of embedding
        raise ClausewiseError(ErrorCode.too_many_chunks, f"the document splits into {len(specs)} chunks, more "
                              f"than the limit of {max_chunks} (CLAUSEWISE_MAX_CHUNKS_PER_DOCUMENT)")
    return part, specs


def prepare_document(rt: Runtime, document_id: str, job_id: str, *, limits: Limits = Limits(),
                     progress: Progress | None = None) -> Prepared | str:
    """Claim the job, partition in the sandbox, split records and chunk. Returns a final status if done."""
    timings: dict[str, float] = {}
    with rt.db.session() as s:
        doc = s.get(Document, document_id)
        if doc is None:
            raise ClausewiseError(ErrorCode.document_not_found, f"no document {document_id}")
        if doc.status == DocumentStatus.indexed.value:
            return doc.status
        job = s.get(Job, job_id)
        job.state, job.stage, job.percent = DocumentStatus.processing, JobStage.partition, 1
        job.started_at = job.started_at or utcnow()
        doc.status, doc.error_code, doc.error_detail = DocumentStatus.processing.value, None, None
        s.flush()
        s.expunge(doc)
    try:
        part, specs = partition_and_chunk(
            rt.blobs.path(doc.storage_key), doc.detected_type, (doc.meta or {}).get("encoding"), limits,
            max_chunks=rt.settings.max_chunks_per_document, timings=timings,
            after_partition=lambda: _step(rt, job_id, JobStage.split, 20, timings, progress))
        return Prepared(doc, job_id, part, specs, timings)
    except ClausewiseError as e:
        fail_document(rt, document_id, job_id, e.code, e.detail)
        return DocumentStatus.failed.value


def embed_and_index(rt: Runtime, prep: Prepared, *, progress: Progress | None = None) -> str:
    """Embed the chunks in batches, write the vectors, then commit the chunks and the indexed status."""
    doc, specs, timings = prep.doc, prep.specs, prep.timings
    try:
        _step(rt, prep.job_id, JobStage.embed, 25, timings, progress)
        t = time.perf_counter()
        embedder = rt.embedder
        vectors = []
        for i in range(0, len(specs), EMBED_BATCH):
            vectors.append(embedder.embed([c.text for c in specs[i:i + EMBED_BATCH]]))
            done = min(i + EMBED_BATCH, len(specs))
            if done < len(specs):
                _step(rt, prep.job_id, JobStage.embed, 25 + int(60 * done / len(specs)), timings, progress)
        matrix = np.vstack(vectors)
        timings["embed_s"] = round(time.perf_counter() - t, 4)
        _step(rt, prep.job_id, JobStage.index, 90, timings, progress)
        t = time.perf_counter()
        ids = [chunk_id(doc.tenant_id, doc.sha256, c.idx) for c in specs]
        rt.vectors.upsert(doc.tenant_id, ids, matrix, [vector_metadata(doc, c) for c in specs])
        timings["vectors_s"] = round(time.perf_counter() - t, 4)
        _commit_indexed(rt, doc, prep.job_id, prep.part, specs, ids, timings)
        return DocumentStatus.indexed.value
    except ClausewiseError as e:
        fail_document(rt, doc.id, prep.job_id, e.code, e.detail)
        return DocumentStatus.failed.value


def index_document(rt: Runtime, document_id: str, job_id: str, *, limits: Limits = Limits(),
                   progress: Progress | None = None) -> str:
    """Run the whole path for one document; returns its final status. Safe to run again (idempotent)."""
    prep = prepare_document(rt, document_id, job_id, limits=limits, progress=progress)
    if isinstance(prep, str):
        return prep
    return embed_and_index(rt, prep, progress=progress)


def index_documents(rt: Runtime, jobs: list[tuple[str, str]], *, limits: Limits = Limits(),
                    on_done: Callable[[str, str, str], None] | None = None, lookahead: bool = True,
                    gate: Callable[[str, str], str | None] | None = None) -> list[str]:
    """Index many documents, partitioning the next one (in its sandbox process) while this one embeds.

    `gate(document_id, job_id)` runs just before a document is started: a status it returns is that document's
    result and it is skipped (the caller's lease claim)."""
    def prepare(document_id: str, job_id: str) -> Prepared | str:
        skipped = gate(document_id, job_id) if gate else None
        return skipped if skipped is not None else prepare_document(rt, document_id, job_id, limits=limits)

    statuses: list[str] = []
    if not jobs:
        return statuses
    if not lookahead:
        for document_id, job_id in jobs:
            prep = prepare(document_id, job_id)
            statuses.append(prep if isinstance(prep, str) else embed_and_index(rt, prep))
            if on_done:
                on_done(document_id, job_id, statuses[-1])
        return statuses
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="partition") as ahead:
        pending = ahead.submit(prepare, *jobs[0])
        for n, (document_id, job_id) in enumerate(jobs):
            prep = pending.result()
            if n + 1 < len(jobs):
                pending = ahead.submit(prepare, *jobs[n + 1])
            status = prep if isinstance(prep, str) else embed_and_index(rt, prep)
            statuses.append(status)
            if on_done:
                on_done(document_id, job_id, status)
    return statuses


def _commit_indexed(rt: Runtime, doc: Document, job_id: str, part: Partitioned, specs: list[ChunkSpec],
                    ids: list[str], timings: dict) -> None:
    t = time.perf_counter()
    stamps = [x for c in specs for x in (c.ts_start, c.ts_end) if x is not None]
    with rt.db.session() as s:
        s.execute(delete(Chunk).where(Chunk.document_id == doc.id))
        s.add_all(Chunk(id=cid, tenant_id=doc.tenant_id, document_id=doc.id, idx=c.idx, text=c.text,
                        char_start=c.char_start, char_end=c.char_end, page=c.page, record_start=c.record_start,
                        record_end=c.record_end, line_start=c.line_start, line_end=c.line_end,
                        ts_start=c.ts_start, ts_end=c.ts_end, section=c.section,
                        meta={**c.meta, "kind": c.kind})
                  for cid, c in zip(ids, specs))
        d = s.get(Document, doc.id)
        d.status, d.kind, d.chunk_count = DocumentStatus.indexed.value, part.kind, len(specs)
        d.page_count, d.record_count = part.page_count, part.record_count
        d.evidence_start = min(stamps) if stamps else d.evidence_date
        d.evidence_end = max(stamps) if stamps else d.evidence_date
        # what the evidence says it is from (freshness counts from here): a log's last event, else the date a
        # policy or record states in its head
        read = max(stamps) if stamps else stated_date("\n".join(c.text for c in specs[:8]))
        meta = {k: v for k, v in {**(d.meta or {}), **part.meta}.items() if k != "evidence_read"}
        if read is not None:
            meta["evidence_read"] = {"at": read.isoformat(), "from": "events" if stamps else "text"}
        d.meta = meta   # assigned whole: a JSON column does not see changes made inside its dict
        # the machine identities its records show, replacing what an earlier processing found
        inventory.store(s, tenant_id=doc.tenant_id, document_id=doc.id, sightings=part.nhi)
        d.chunker_version, d.embedder_id, d.indexed_at = CHUNKER_VERSION, EMBEDDER_ID, utcnow()
        job = s.get(Job, job_id)
        timings["commit_s"] = round(time.perf_counter() - t, 4)
        job.state, job.stage, job.percent, job.finished_at = DocumentStatus.indexed, JobStage.done, 100, utcnow()
        job.timings = dict(timings)
