"""Plain words for error codes, shown beside the code on the web UI (the code stays visible: it is what a ticket or
a log search quotes). Every ErrorCode has a sentence; a test checks none is missing."""

from __future__ import annotations

from core.errors import ErrorCode

PLAIN: dict[str, str] = {
    "validation_error": "Something in the request is not valid.",
    "not_found": "There is nothing at this address.",
    "framework_not_found": "No framework by that name is in the catalog.",
    "control_not_found": "No control by that id is in the catalog.",
    "document_not_found": "No document by that id in this workspace.",
    "job_not_found": "No job by that id.",
    "suggestion_not_found": "No suggestion by that id in this workspace.",
    "key_not_found": "No key by that id in this workspace.",
    "edge_not_found": "The catalog has no crosswalk edge between these controls.",
    "tenant_not_found": "No workspace by that name.",
    "dataset_not_found": "No labelled set by that name is shipped with the service.",
    "eval_run_not_found": "No evaluation run by that id in this workspace.",
    "unauthenticated": "You are not signed in, or your session has ended.",
    "forbidden": "Your role may not do this.",
    "conflict": "This conflicts with what is stored; reload and try again.",
    "rate_limited": "Too many requests with this key; wait a moment and try again.",
    "body_too_large": "The request is larger than the service accepts.",
    "internal_error": "Something went wrong on the server; nothing was changed.",
    "not_ready": "The service is starting or a store it needs is unreachable.",
    "vector_store_busy": "The vector store is busy; try again in a moment.",
    "reason_required": "A reject needs a reason.",
    "invalid_decision": "A decision is confirm or reject.",
    "four_eyes_violation": "You uploaded this evidence, so someone else must confirm it.",
    "quote_not_found": "The selected text was not found in the document.",
    "invalid_offsets": "The selected span does not match the document's text.",
    "document_not_indexed": "The document is not indexed yet.",
    "ledger_busy": "Another decision was being recorded; try again.",
    "justification_required": "Excluding a control needs a justification.",
    "not_annex_a_control": "Only Annex A controls can be excluded; clauses 4 to 10 always apply.",
    "identity_not_found": "That machine identity is not in this workspace's inventory.",
    "action_not_found": "That corrective action does not exist in this workspace.",
    "invalid_action_source": "A corrective action starts from a gap, an expired control or a mapping rejected "
                             "as insufficient or stale; this one does not.",
    "invalid_transition": "The action cannot move to that state from where it is now.",
    "fresh_evidence_required": "Verifying needs newly confirmed evidence, dated after the action was opened, "
                               "for every control it names.",
    "empty_file": "The file is empty.",
    "file_too_large": "The file is larger than the upload limit.",
    "unsupported_media_type": "This kind of file is not accepted.",
    "type_mismatch": "The file's name claims one type but its content is another.",
    "invalid_filename": "The file name is not acceptable.",
    "invalid_evidence_date": "The evidence date is not a valid date.",
    "corrupt_file": "The file is damaged and could not be read.",
    "encrypted_pdf": "The PDF is encrypted; upload it without a password.",
    "no_text_layer": "The PDF has no text layer (a scan); upload a version with text.",
    "no_text": "No text was found in the file.",
    "archive_bomb": "The file expands to far more than its size (a possible archive bomb) and was not opened.",
    "undecodable_text": "The text is in an encoding that could not be read.",
    "partition_timeout": "Reading the file took longer than the time limit.",
    "partition_memory": "Reading the file needed more memory than the limit.",
    "too_many_chunks": "The document splits into more passages than the per-document limit; split the file.",
    "embedding_failed": "The text could not be embedded; try again.",
    "index_failed": "The text could not be added to the search index; try again.",
    "model_missing": "A model the service needs is not installed.",
    "worker_crash": "The worker processing this file stopped; it was retried and then given up.",
}

assert set(PLAIN) == {c.value for c in ErrorCode}, "every error code needs plain words"


def plain(code: str | None) -> str:
    return PLAIN.get(code or "", "Something went wrong.")
