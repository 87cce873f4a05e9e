"""One business error type; its code is stable and carries the HTTP status."""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    """Stable error codes. Clients branch on these, never on message text."""

    def __new__(cls, value: str, status: int):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.status = status
        return obj

    # generic
    validation_error = ("validation_error", 422)
    not_found = ("not_found", 404)
    framework_not_found = ("framework_not_found", 404)
    control_not_found = ("control_not_found", 404)
    document_not_found = ("document_not_found", 404)
    job_not_found = ("job_not_found", 404)
    suggestion_not_found = ("suggestion_not_found", 404)
    key_not_found = ("key_not_found", 404)
    edge_not_found = ("edge_not_found", 404)
    tenant_not_found = ("tenant_not_found", 404)
    dataset_not_found = ("dataset_not_found", 404)
    eval_run_not_found = ("eval_run_not_found", 404)
    identity_not_found = ("identity_not_found", 404)
    unauthenticated = ("unauthenticated", 401)
    forbidden = ("forbidden", 403)
    conflict = ("conflict", 409)
    rate_limited = ("rate_limited", 429)
    body_too_large = ("body_too_large", 413)
    internal_error = ("internal_error", 500)
    not_ready = ("not_ready", 503)
    vector_store_busy = ("vector_store_busy", 503)
    # review
    reason_required = ("reason_required", 422)
    invalid_decision = ("invalid_decision", 422)
    four_eyes_violation = ("four_eyes_violation", 403)
    quote_not_found = ("quote_not_found", 422)
    invalid_offsets = ("invalid_offsets", 422)
    document_not_indexed = ("document_not_indexed", 409)
    ledger_busy = ("ledger_busy", 409)
    # governance
    justification_required = ("justification_required", 422)
    not_annex_a_control = ("not_annex_a_control", 422)
    action_not_found = ("action_not_found", 404)
    invalid_action_source = ("invalid_action_source", 422)
    invalid_transition = ("invalid_transition", 409)
    fresh_evidence_required = ("fresh_evidence_required", 409)
    # upload
    empty_file = ("empty_file", 400)
    file_too_large = ("file_too_large", 413)
    unsupported_media_type = ("unsupported_media_type", 415)
    type_mismatch = ("type_mismatch", 415)
    invalid_filename = ("invalid_filename", 400)
    invalid_evidence_date = ("invalid_evidence_date", 422)
    # processing (stored on a failed document)
    corrupt_file = ("corrupt_file", 422)
    encrypted_pdf = ("encrypted_pdf", 422)
    no_text_layer = ("no_text_layer", 422)
    no_text = ("no_text", 422)
    archive_bomb = ("archive_bomb", 422)
    undecodable_text = ("undecodable_text", 422)
    partition_timeout = ("partition_timeout", 422)
    partition_memory = ("partition_memory", 422)
    too_many_chunks = ("too_many_chunks", 422)
    embedding_failed = ("embedding_failed", 500)
    index_failed = ("index_failed", 500)
    model_missing = ("model_missing", 500)
    worker_crash = ("worker_crash", 500)


class ClausewiseError(Exception):
    """A failure the caller can act on: stable code, HTTP status, human detail."""

    def __init__(self, code: ErrorCode, detail: str, **extra: object) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        self.detail = detail
        self.extra = extra

    @property
    def status(self) -> int:
        return self.code.status

    def body(self) -> dict[str, object]:
        return {"error_code": self.code.value, "detail": self.detail, **self.extra}
