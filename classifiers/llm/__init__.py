"""LLM assist: a chat model checks a document's top candidate controls against their quoted evidence.

The model only judges candidates the classifier already ranked; it never proposes a control. Its verdict
(`supported`, `partial`, `not_supported`) shifts the calibrated confidence in logit space and so the rank, and
a `not_supported` verdict sends the suggestion to review. Because the evidence is text an uploader wrote, the
model can take a label away but never accept one by itself: a verdict never lifts a candidate over its
framework's threshold (`Adjustment.promote`). When the model cannot answer, suggestions still arrive, marked
`unverified`.

Modules:
  sanitize      evidence sanitising against prompt injection (NFKC, hidden text and HTML comments removed,
                delimiters escaped, sentences that address an AI reviewer replaced by a marker)
  prompt        VerdictKind, the fixed system prompt, the user turn with delimited evidence, the forced
                tool-call schema (one property per candidate id), reading the answer, PROMPT_VERSION
  backends      ChatBackend over langchain chat models; BACKENDS maps llm_mode (openai-compatible, ollama,
                local) to the function that builds its backend from settings
  resilience    retry decisions (on exception types) and backoff, circuit breaker, per-document budget
                of calls and tokens, SQLite verdict cache keyed by (evidence hash, control, prompt
                version, model)
  local_server  the packaged GGUF model joined and checked, llama-cpp-python's server started and restarted
  verifier      Verifier (batched, cached, budgeted judging), Verdict, Adjustment, apply_verdicts,
                verifier_from_settings
  errors        LLMUnavailable

Every name is re-exported here; import from `classifiers.llm`.
"""

from .backends import (
    BACKENDS,
    SEED,
    ChatAnswer,
    ChatBackend,
    backend_from_settings,
    ollama_backend,
    openai_backend,
)
from .errors import LLMUnavailable
from .local_server import (
    LOCAL_MODEL_ALIAS,
    LOCAL_MODEL_BYTES,
    LOCAL_MODEL_FILE,
    LOCAL_MODEL_PARTS,
    LOCAL_MODEL_SHA256,
    LocalServer,
    assemble_local_model,
    free_port,
    local_model_id,
    shared_server,
)
from .prompt import (
    CHARS_PER_TOKEN,
    CSF,
    DESCRIPTION_MAX_CHARS,
    EVIDENCE_CHARS_PER_CALL,
    FRAMEWORK_LABEL,
    ISO,
    JUDGED,
    NHI,
    OUTPUT_TOKENS_PER_CANDIDATE,
    PROMPT_VERSION,
    QUOTE_ANSWER_MAX_CHARS,
    QUOTE_MAX_CHARS,
    RATIONALE_MAX_CHARS,
    SYSTEM_PROMPT,
    TOOL_NAME,
    UNVERIFIED,
    USER_TEMPLATE,
    VERDICTS,
    Candidate,
    Parsed,
    VerdictKind,
    build_messages,
    estimate_tokens,
    judgement,
    parse_answer,
    quote_in_evidence,
    verdict_schema,
)
from .resilience import (
    Budget,
    CircuitBreaker,
    VerdictCache,
    backoff_delay,
    is_timeout,
    should_retry,
    timeout_types,
)
from .sanitize import ADDRESSED_MARKER, SANITISER_VERSION, Sanitised, clip, sanitise
from .verifier import (
    DEFAULT_ADJUSTMENT,
    Adjustment,
    Verdict,
    Verification,
    Verifier,
    apply_verdicts,
    per_framework_candidates,
    say_once,
    verifier_from_settings,
)

__all__ = [
    "ADDRESSED_MARKER", "BACKENDS", "CHARS_PER_TOKEN", "CSF", "DEFAULT_ADJUSTMENT",
    "DESCRIPTION_MAX_CHARS", "EVIDENCE_CHARS_PER_CALL", "FRAMEWORK_LABEL", "ISO", "JUDGED",
    "LOCAL_MODEL_ALIAS", "LOCAL_MODEL_BYTES", "LOCAL_MODEL_FILE", "LOCAL_MODEL_PARTS",
    "LOCAL_MODEL_SHA256", "NHI", "OUTPUT_TOKENS_PER_CANDIDATE", "PROMPT_VERSION",
    "QUOTE_ANSWER_MAX_CHARS", "QUOTE_MAX_CHARS", "RATIONALE_MAX_CHARS", "SANITISER_VERSION", "SEED",
    "SYSTEM_PROMPT", "TOOL_NAME", "UNVERIFIED", "USER_TEMPLATE", "VERDICTS", "Adjustment", "Budget",
    "Candidate", "ChatAnswer", "ChatBackend", "CircuitBreaker", "LLMUnavailable", "LocalServer",
    "Parsed", "Sanitised", "Verdict", "VerdictCache", "VerdictKind", "Verification", "Verifier",
    "apply_verdicts", "assemble_local_model", "backend_from_settings", "backoff_delay", "build_messages",
    "clip", "estimate_tokens", "free_port", "is_timeout", "judgement", "local_model_id",
    "ollama_backend", "openai_backend", "parse_answer", "per_framework_candidates", "quote_in_evidence",
    "sanitise", "say_once", "shared_server", "should_retry", "timeout_types", "verdict_schema",
    "verifier_from_settings",
]
