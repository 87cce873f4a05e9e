"""The verifier: a chat model judges a document's top candidate controls against their quoted evidence.

`Verifier.verify` sanitises each candidate's evidence, answers from the verdict cache where it can, and asks
the model for the rest in one or two batched calls within the document's budget; `apply_verdicts` then shifts
the calibrated confidences by `Adjustment` (in logit space), sets states and redoes ranks. A verdict never
lifts a candidate over its framework's threshold unless `Adjustment.promote` says so.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from .backends import ChatBackend, backend_from_settings
from .errors import LLMUnavailable
from .prompt import (
    CSF,
    ISO,
    JUDGED,
    NHI,
    PROMPT_VERSION,
    QUOTE_MAX_CHARS,
    Candidate,
    Parsed,
    VerdictKind,
    build_messages,
    estimate_tokens,
    judgement,
    parse_answer,
    verdict_schema,
)
from .resilience import Budget, CircuitBreaker, VerdictCache, backoff_delay, should_retry
from .sanitize import Sanitised, clip, sanitise

log = logging.getLogger("clausewise.llm")


@dataclass(frozen=True)
class Adjustment:
    """How a verdict moves a calibrated confidence (logit shifts); chosen on the dev set, see bench/llm.py."""

    supported: float = 0.5
    partial: float = 0.0
    not_supported: float = -2.0
    # a verdict may lift a candidate over the threshold (off: the LLM reads uploader text)
    promote: bool = False

    def shift(self, verdict: str | None) -> float:
        return {VerdictKind.SUPPORTED: self.supported, VerdictKind.PARTIAL: self.partial,
                VerdictKind.NOT_SUPPORTED: self.not_supported}.get(verdict or "", 0.0)


DEFAULT_ADJUSTMENT = Adjustment()


@dataclass
class Verdict:
    """One candidate's verdict (a VerdictKind; a plain string given here is converted) and its rationale."""

    verdict: VerdictKind    # supported | partial | not_supported | unverified
    rationale: str = ""
    cached: bool = False
    reason: str = ""        # why unverified: circuit_open, budget, error, missing

    def __post_init__(self) -> None:
        self.verdict = VerdictKind(self.verdict)


@dataclass
class Verification:
    verdicts: dict[tuple[str, str], Verdict]
    model_id: str
    prompt_version: str = PROMPT_VERSION
    stats: dict = field(default_factory=dict)


def per_framework_candidates(n: int) -> dict[str, int]:
    """How many top candidates per framework are judged: n for ISO, fewer for the crosswalked frameworks."""
    return {ISO: n, CSF: max(1, (n + 1) // 2), NHI: max(1, n // 2)}


def _new_stats(n_candidates: int, sanitised: dict) -> dict:
    return {"candidates": n_candidates, "cache_hits": 0, "calls": 0, "tokens": 0, "dropped_ids": 0,
            "dropped": [], "malformed": 0, "unverified": 0, "budget_skipped": 0, "errors": [],
            "llm_seconds": 0.0, "quotes_grounded": 0, **sanitised}


class Verifier:
    """Judges a document's top candidates with a chat model; one per process (its breaker is shared)."""

    def __init__(self, backend: ChatBackend, catalog, *, cache: VerdictCache | None = None,
                 breaker: CircuitBreaker | None = None, candidates: int = 5, batch_size: int = 10,
                 max_calls: int = 4, max_tokens: int = 6000, retries: int = 2, backoff_s: float = 0.5,
                 per_framework: dict[str, int] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.backend = backend
        self.catalog = catalog
        self.cache = cache
        self.breaker = breaker or CircuitBreaker()
        self.per_framework = per_framework or per_framework_candidates(candidates)
        self.batch_size = batch_size
        self.max_calls, self.max_tokens = max_calls, max_tokens
        self.retries, self.backoff_s, self.sleep = retries, backoff_s, sleep

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    @property
    def budget(self) -> Budget:
        return Budget(self.max_calls, self.max_tokens)

    def describe(self, framework: str, control_id: str) -> str:
        c = self.catalog.control(framework, control_id)
        if framework == CSF:
            parent = self.catalog.frameworks[framework].controls.get(c.parent) if c.parent else None
            return f"{parent.title}: {c.text}" if parent else c.text
        return f"{c.title}. {c.text}"

    def candidates(self, drafts, chunk_texts: Sequence[str]) -> tuple[list[Candidate], dict]:
        """The drafts to judge (top per framework by rank) with sanitised evidence."""
        out, hidden, addressed = [], 0, 0
        seen_chunks: dict[int, Sanitised] = {}
        for fw, n in self.per_framework.items():
            for d in sorted((d for d in drafts if d.framework == fw), key=lambda d: d.rank)[:n]:
                if d.chunk_index not in seen_chunks:
                    seen_chunks[d.chunk_index] = s = sanitise(chunk_texts[d.chunk_index])
                    hidden += s.hidden_removed
                    addressed += s.addressed_removed
                s = seen_chunks[d.chunk_index]
                text = clip(s.text, QUOTE_MAX_CHARS)
                out.append(Candidate(fw, d.control_id, self.describe(fw, d.control_id), text,
                                     hashlib.sha256(text.encode()).hexdigest()))
        return out, {"hidden_removed": hidden, "addressed_removed": addressed}

    def _batches(self, todo: list[Candidate]) -> list[list[Candidate]]:
        if not todo:
            return []
        k = math.ceil(len(todo) / self.batch_size)
        size = math.ceil(len(todo) / k)
        return [todo[i:i + size] for i in range(0, len(todo), size)]

    def _call(self, batch: list[Candidate], stats: dict) -> Parsed | str:
        """A parsed answer, or the reason there is none (circuit_open, budget, error); retries with
        backoff."""
        ids = [c.control_id for c in batch]
        messages = build_messages(batch)
        prompt_est, out_est = estimate_tokens(messages, len(batch))
        for attempt in range(self.retries + 1):
            if not self.breaker.allow():
                return "circuit_open"
            if attempt and not self.budget.allows_retry(stats):
                return "budget"
            t = time.perf_counter()
            try:
                stats["calls"] += 1
                if self.backend.revive:
                    self.backend.revive()
                ans = self.backend.ask(messages, verdict_schema(ids), out_est)
                parsed = parse_answer(ans.args, ids)
            except Exception as e:  # noqa: BLE001 - transport, timeout, server and parse errors all count
                stats["errors"].append(f"{type(e).__name__}: {str(e)[:160]}")
                stats["tokens"] += prompt_est   # a failed call may still have cost the prompt
                self.breaker.failure()
                if should_retry(e, attempt, self.retries):
                    self.sleep(backoff_delay(self.backoff_s, attempt))
                    continue
                return "error"
            finally:
                stats["llm_seconds"] += time.perf_counter() - t
            self.breaker.success()
            stats["tokens"] += (ans.prompt_tokens or prompt_est) + (ans.completion_tokens or out_est)
            return parsed
        return "error"

    def _from_cache(self, cands: list[Candidate], keys: dict) -> tuple[dict[tuple[str, str], Verdict], list]:
        """Verdicts the cache holds, and the candidates still to ask about."""
        hits = self.cache.get_many(list(keys.values())) if self.cache else {}
        verdicts, todo = {}, []
        for c in cands:
            if keys[c.key] in hits:
                v, r = hits[keys[c.key]]
                verdicts[c.key] = Verdict(v, r, cached=True)
            else:
                todo.append(c)
        return verdicts, todo

    def _judge(self, batch: list[Candidate], stats: dict, keys: dict, verdicts: dict, fresh: list) -> str:
        """Ask about one batch within budget and record its verdicts; returns the reason for any candidate
        left without one (budget, circuit_open, error, missing)."""
        prompt_est, out_est = estimate_tokens(build_messages(batch), len(batch))
        if not self.budget.allows_call(stats, prompt_est, out_est):
            stats["budget_skipped"] += len(batch)
            return "budget"
        result = self._call(batch, stats)
        if isinstance(result, str):
            return result
        stats["dropped_ids"] += len(result.dropped_ids)
        stats["dropped"].extend(result.dropped_ids)
        stats["malformed"] += result.malformed
        for c in batch:
            if c.control_id in result.verdicts:
                v, r, grounded = judgement(*result.verdicts[c.control_id], c.evidence)
                verdicts[c.key] = Verdict(v, r)
                stats["quotes_grounded"] += int(grounded)
                fresh.append((keys[c.key], v.value, r, self.model_id, PROMPT_VERSION))
        return "missing"

    def verify(self, drafts, chunk_texts: Sequence[str]) -> Verification:
        """Verdicts for the document's top candidates: from the cache, else from batched calls within
        budget."""
        t0 = time.perf_counter()
        cands, san = self.candidates(drafts, chunk_texts)
        stats = _new_stats(len(cands), san)
        keys = {c.key: VerdictCache.key(c, self.model_id) for c in cands}
        verdicts, todo = self._from_cache(cands, keys)
        stats["cache_hits"] = len(cands) - len(todo)
        fresh: list[tuple[str, str, str, str, str]] = []
        for batch in self._batches(todo):
            reason = self._judge(batch, stats, keys, verdicts, fresh)
            for c in batch:
                if c.key not in verdicts:
                    verdicts[c.key] = Verdict(VerdictKind.UNVERIFIED, reason=reason)
        if self.cache:
            self.cache.put_many(fresh)
        stats["unverified"] = sum(1 for v in verdicts.values() if v.verdict == VerdictKind.UNVERIFIED)
        stats["circuit"] = self.breaker.state
        stats["llm_seconds"] = round(stats["llm_seconds"], 3)
        stats["seconds"] = round(time.perf_counter() - t0, 3)
        if stats["dropped_ids"]:
            log.warning("LLM named %d ids outside the candidate set; dropped: %s", stats["dropped_ids"],
                        stats["dropped"][:10])
        return Verification(verdicts, self.model_id, PROMPT_VERSION, stats)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _adjusted(d, v: Verdict, thr: float, adjustment: Adjustment) -> tuple[float, str]:
    """(confidence, state) of a draft after its verdict; `unverified` leaves both alone."""
    conf, state = d.confidence, d.state
    if v.verdict in JUDGED:
        conf = 1 / (1 + math.exp(-(_logit(d.confidence) + adjustment.shift(v.verdict))))
        if not adjustment.promote and d.confidence < thr:
            conf = min(conf, max(d.confidence, thr - 1e-4))   # stays under the threshold once rounded
        if v.verdict == VerdictKind.NOT_SUPPORTED or conf < thr:
            state = "needs_review"
    return conf, state


def apply_verdicts(drafts: list, verification: Verification, thresholds: dict[str, float],
                   adjustment: Adjustment = DEFAULT_ADJUSTMENT) -> list:
    """Drafts with verdicts recorded, confidences shifted, states set and ranks redone per framework."""
    out = []
    for fw in dict.fromkeys(d.framework for d in drafts):
        rows = []
        for d in (d for d in drafts if d.framework == fw):
            v = verification.verdicts.get((fw, d.control_id))
            if v is None:
                rows.append(replace(d))
                continue
            conf, state = _adjusted(d, v, thresholds[fw], adjustment)
            features = {**d.features, "confidence_before_llm": d.confidence}
            rows.append(replace(d, confidence=round(conf, 4), state=state, features=features,
                                llm_verdict=VerdictKind(v.verdict).value, llm_rationale=v.rationale or None,
                                llm_model=verification.model_id, prompt_version=verification.prompt_version))
        rows.sort(key=lambda d: (-d.confidence, d.rank))
        for rank, d in enumerate(rows, start=1):
            d.rank = rank
        out.extend(rows)
    return out


# --- construction from settings -------------------------------------------------------------------------

_said: set[str] = set()


def say_once(message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.warning(message)


def verifier_from_settings(settings, catalog) -> Verifier | None:
    """The configured verifier, or None (llm_mode=none, or no model available: said once, service goes on)."""
    if settings.llm_mode == "none":
        return None
    try:
        backend = backend_from_settings(settings)
    except LLMUnavailable as e:
        say_once(f"LLM assist is off: {e}")
        return None
    cache = VerdictCache(settings.data_dir / "cache" / "llm_verdicts.sqlite3")
    return Verifier(backend, catalog, cache=cache,
                    candidates=settings.llm_candidates, max_calls=settings.llm_max_calls_per_document,
                    max_tokens=settings.llm_max_tokens_per_document)
