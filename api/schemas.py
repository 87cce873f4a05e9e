"""Response models: what each route answers, for /docs and for clients generated from the OpenAPI document.

They name the fields clients rely on; `extra="allow"` keeps any further field the service adds, so a model
documents an answer without trimming it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorOut(_Out):
    """Every error: a stable code clients branch on, and a sentence for people."""

    error_code: str
    detail: str


ERROR_TEXT = {
    409: "conflict: `ledger_busy` (another decision or governance event was being recorded; retry), "
         "`document_not_indexed`, `invalid_transition` or `fresh_evidence_required`",
    413: "`file_too_large` or `body_too_large`",
    415: "`unsupported_media_type` or `type_mismatch` (claimed and detected types in the body)",
    429: "`rate_limited`: too many requests with this key; the `Retry-After` header says when to retry",
    503: "`vector_store_busy` or `not_ready`: retry shortly",
}


def error_responses(*codes: int) -> dict:
    """OpenAPI `responses` for error answers an operation gives besides the ones every secured route documents."""
    return {c: {"model": ErrorOut, "description": ERROR_TEXT[c]} for c in codes}


class JobOut(_Out):
    job_id: str
    document_id: str
    state: str
    stage: str | None = None
    percent: int
    attempts: int
    error_code: str | None = None
    error_detail: str | None = None
    timings: dict = {}
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class EvidenceRange(_Out):
    start: str | None = None
    end: str | None = None


class DocumentOut(_Out):
    document_id: str
    status: str
    error_code: str | None = None
    error_detail: str | None = None
    filename: str
    title: str | None = None
    sha256: str
    size_bytes: int
    detected_type: str
    kind: str | None = None
    chunk_count: int
    page_count: int | None = None
    record_count: int | None = None
    evidence_date: str | None = None
    evidence_range: EvidenceRange
    created_at: str | None = None
    indexed_at: str | None = None
    job: JobOut | None = None


class DocumentPage(_Out):
    items: list[DocumentOut]
    total: int
    page: int
    page_size: int


class UploadOut(_Out):
    """202: accepted, with the job to follow (`retry_of` when the same bytes had failed); 200: `duplicate_of`."""

    document_id: str
    status: str
    sha256: str
    job_id: str | None = None
    retry_of: str | None = None
    duplicate_of: str | None = None


class ChunkOut(_Out):
    chunk_id: str
    idx: int
    text: str
    char_start: int
    char_end: int
    page: int | None = None
    record_start: int | None = None
    record_end: int | None = None
    line_start: int | None = None
    line_end: int | None = None


class ChunkPage(_Out):
    items: list[ChunkOut]
    total: int


class SuggestionOut(_Out):
    suggestion_id: str
    document_id: str
    framework: str
    control_id: str
    title: str | None = None
    rank: int
    confidence: float
    state: str
    source: str
    evidence: dict
    crosswalk: dict | None = None


class SuggestionsOut(_Out):
    document_id: str
    run_id: str | None = None
    items: list[SuggestionOut]


class SearchHit(_Out):
    chunk_id: str
    document_id: str
    filename: str
    score: float
    text: str


class SearchOut(_Out):
    query: str
    items: list[SearchHit]


class HealthOut(_Out):
    status: str
    version: str
    catalog_version: str


class ReadyOut(_Out):
    """`checks` has database, broker, vector_store and, under `clausewise serve`, worker."""

    status: str
    checks: dict[str, dict]
    error_code: str | None = None
    detail: str | None = None


class DecisionOut(_Out):
    """One ledger row: who decided what about which suggestion, and the chain hashes."""

    decision_id: str
    seq: int
    suggestion_id: str
    document_id: str
    framework: str
    control_id: str
    decision: str
    reason_code: str | None = None
    comment: str | None = None
    actor: str
    supersedes: str | None = None
    created_at: str | None = None
    row_hash: str
    prev_hash: str


class SuggestionDetailOut(SuggestionOut):
    """A suggestion with its decision history (oldest first)."""

    decisions: list[DecisionOut]
    current_decision: str | None = None


class MappingOut(_Out):
    """A reviewer-added mapping: the suggestion it became and the `add` decision that confirmed it."""

    suggestion: SuggestionOut
    decision: DecisionOut


class QueueOut(_Out):
    total_pending: int
    items: list[dict]
    collapsed: int


class CoverageOut(_Out):
    framework: str
    catalog_version: str
    period: dict
    summary: dict
    items: list[dict]


class LedgerVerifyOut(_Out):
    tenant_id: str
    rows: int
    governance_rows: int = 0
    ok: bool
    problems: list[dict]
    head: dict


class EdgeOut(_Out):
    relationship: str
    provenance: str
    rationale: str | None = None
    review: dict | None = None


class EdgesOut(_Out):
    catalog_version: str
    count: int
    items: list[EdgeOut]


class KeyOut(_Out):
    id: str
    name: str | None = None
    role: str
    prefix: str
    tenant_id: str
    created_at: str | None = None
    revoked_at: str | None = None


class NewKeyOut(KeyOut):
    key: str  # shown once


class KeysOut(_Out):
    items: list[KeyOut]


class EvalRunOut(_Out):
    eval_run_id: str
    dataset: str
    state: str
    percent: int
    classifier_version: str | None = None
    error: str | None = None
    created_at: str | None = None
    finished_at: str | None = None


class EvalRunPage(_Out):
    items: list[EvalRunOut]
    total: int
    page: int
    page_size: int


class FrameworksOut(_Out):
    catalog_version: str
    items: list[dict]


class ControlsOut(_Out):
    framework: str
    catalog_version: str
    count: int
    items: list[dict]


class NeighbourOut(_Out):
    framework: str
    control_id: str
    title: str | None = None
    hops: int
    path: list[dict]


class ControlOut(_Out):
    """One control (its fields as the catalog has them) with its crosswalk neighbours."""

    catalog_version: str
    attribution: str | None = None
    neighbours: list[NeighbourOut]


class ClassifyOut(_Out):
    """A new classification run of the document."""

    run_id: str
    suggestions: int
    genre: str | None = None   # the kind of document read from its title lines (catalog/data/genres.json)
