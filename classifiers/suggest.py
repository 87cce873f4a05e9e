"""Suggestions for a document: retrieval and lexical scores, evidence form and crosswalk, calibration, state."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from catalog import Catalog
from classifiers.calibration import Calibrator, load
from classifiers.examples import ExampleBank, document_vector
from classifiers.genre import (
    GenreConfig,
    best_genre,
    document_head,
    genre_priors,
    genre_strengths,
    ticket_type,
    title_lines,
)
from classifiers.index import get_index
from classifiers.profiles import CLASSIFIED
from classifiers.scoring import CrossConfig, ScoringConfig, combine, score_document
from core.errors import ClausewiseError, ErrorCode
from core.models import Chunk, Document, DocumentStatus, Suggestion, SuggestionState, utcnow
from core.scoping import tenant_document

TOP_K = 10


@dataclass(frozen=True)
class ClassifierConfig:
    scoring: ScoringConfig = ScoringConfig()
    # Chosen on the dev set (cross-validated) and checked on the realistic files; see README "Classifier".
    cross: CrossConfig = CrossConfig(w_form=0.25, w_reinforce=0.0, w_propose=0.1)
    w_examples: float = 1.0
    top_k: int = TOP_K
    crosswalk_views: bool = True   # ISO views from project crosswalk rationales (classifiers/profiles.py)
    # the document's genre read from its title lines and ticket type (classifiers/genre.py); README "Classifier"
    genre: GenreConfig = GenreConfig(w_genre=0.2)

    def as_dict(self) -> dict:
        return {"scoring": self.scoring.as_dict(), "cross": self.cross.as_dict(), "w_examples": self.w_examples,
                "top_k": self.top_k, "crosswalk_views": self.crosswalk_views, "genre": self.genre.as_dict()}


@dataclass
class Draft:
    """One suggestion before it is stored."""

    framework: str
    control_id: str
    rank: int
    raw_score: float
    confidence: float
    state: str
    source: str
    chunk_index: int
    features: dict
    crosswalk_path: list | None = None
    relationship: str | None = None
    # set only when an LLM step ran (classifiers/llm/)
    llm_verdict: str | None = None
    llm_rationale: str | None = None
    llm_model: str | None = None
    prompt_version: str | None = None


@dataclass
class Classified:
    drafts: list[Draft]
    seconds: float
    extra: dict = field(default_factory=dict)


class Classifier:
    """Scores documents against the catalog; one per process (the control index is built once)."""

    def __init__(self, catalog: Catalog, embedder, *, cache_dir: Path | None = None,
                 calibrator: Calibrator | None = None, examples: ExampleBank | None = None,
                 config: ClassifierConfig = ClassifierConfig()) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.config = config
        self.calibrator = calibrator if calibrator is not None else load()
        self.examples = examples if examples is not None else ExampleBank.load()
        self.index = get_index(catalog, embedder, cache_dir, crosswalk_views=config.crosswalk_views)
        payload = json.dumps({"config": config.as_dict(), "calibration": self.calibrator.as_json(),
                              "examples": len(self.examples)}, sort_keys=True)
        self.config_hash = hashlib.sha256(payload.encode()).hexdigest()[:12]
        self.version = f"clf-1|{embedder.id}|{catalog.version}|{self.config_hash}"

    def classify(self, chunk_texts: list[str], chunk_vectors: np.ndarray, kind: str | None,
                 examples: ExampleBank | None = None) -> Classified:
        """Ranked, calibrated drafts per framework for one document."""
        t = time.perf_counter()
        scores = score_document(self.index, chunk_texts, chunk_vectors, self.config.scoring)
        gc = self.config.genre
        genre = None
        if gc.w_genre or gc.w_doc:
            # short texts only: the title lines and ticket type; the head (600 chars) only if a variant reads it
            titles = (title_lines(chunk_texts) + ticket_type(chunk_texts)) if gc.w_genre else []
            need_head = bool(gc.w_doc) or (bool(titles) and gc.read != "title")
            texts = ([document_head(chunk_texts, gc.head_chars)] if need_head else []) + titles
            vecs = self.embedder.embed(texts) if texts else np.zeros((0, self.embedder.dimension), np.float32)
            head_vec, title_vecs = (vecs[0], vecs[1:]) if need_head else (None, vecs)
            if gc.w_doc:
                for fw, s in scores.items():
                    fx = self.index.frameworks[fw]
                    doc = np.full(len(s.control_ids), -1.0)
                    np.maximum.at(doc, fx.view_owner, fx.view_vectors @ head_vec)
                    s.dense_doc = doc
                    s.fused = s.fused + gc.w_doc * doc
            if titles:   # a fragment of prose (no title) has no genre
                read = {"title": title_vecs, "head": head_vec[None, :] if need_head else None,
                        "title+head": np.vstack([title_vecs, head_vec[None, :]]) if need_head else None}[gc.read]
                strengths = genre_strengths(self.index, read, gc)
                genre = best_genre(self.index, strengths)
                for fw, priors in genre_priors(self.index, strengths).items():
                    if fw in scores:
                        pos = {c: i for i, c in enumerate(scores[fw].control_ids)}
                        for cid, value in priors.items():
                            if cid in pos:
                                scores[fw].fused[pos[cid]] += gc.w_genre * value
        bank = self.examples if examples is None else examples
        knn = {}
        if self.config.w_examples and len(bank):
            doc_vec = document_vector(chunk_vectors)
            for fw, s in scores.items():
                knn[fw] = bank.votes(doc_vec, fw, s.control_ids)
                s.fused = s.fused + self.config.w_examples * knn[fw]
        direct = {fw: s.fused.copy() for fw, s in scores.items()}
        paths = combine(scores, self.catalog, kind, self.config.cross)
        drafts: list[Draft] = []
        for fw in CLASSIFIED:
            s = scores[fw]
            order = s.ranking()
            conf = np.empty(len(order))
            conf[order] = self.calibrator.confidence(fw, s.fused[order])
            threshold = self.calibrator.threshold(fw)
            for rank, i in enumerate(order[: self.config.top_k], start=1):
                cid = s.control_ids[i]
                path = paths[fw].get(cid)
                lift = float(s.fused[i] - direct[fw][i])
                from_crosswalk = path is not None and lift > 0 and fw != "ISO-IEC-42001-2023"
                drafts.append(Draft(
                    framework=fw, control_id=cid, rank=rank, raw_score=round(float(s.fused[i]), 6),
                    confidence=round(float(conf[i]), 4),
                    state=(SuggestionState.suggested if conf[i] >= threshold else SuggestionState.needs_review).value,
                    source="crosswalk" if from_crosswalk and lift >= 0.5 * float(direct[fw][i]) else "retrieval",
                    chunk_index=int(s.best_chunk[i]),
                    features={"dense_max": round(float(s.dense_max[i]), 4),
                              "dense_top": round(float(s.dense_top[i]), 4),
                              "bm25": round(float(s.bm25[i]), 4), "crosswalk_lift": round(lift, 4),
                              "examples": round(float(knn[fw][i]), 4) if fw in knn else 0.0},
                    crosswalk_path=[h.public() for h in path] if path else None,
                    relationship=path[-1].relationship if path else None,
                ))
        return Classified(drafts, time.perf_counter() - t, {"genre": genre} if genre else {})


def _chunk_vectors(vectors, tenant_id: str, ids: list[str]) -> np.ndarray:
    by_id = vectors.embeddings(tenant_id, ids)
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ClausewiseError(ErrorCode.index_failed, f"{len(missing)} chunk vectors are missing; run reconcile")
    return np.asarray([by_id[i] for i in ids], dtype=np.float32)


def verify_drafts(classifier: Classifier, verifier, drafts: list[Draft],
                  chunk_texts: list[str]) -> tuple[list[Draft], dict]:
    """The LLM step: verdicts on the top candidates adjust confidence, rank and state; stats for the caller."""
    from classifiers.llm import apply_verdicts

    verification = verifier.verify(drafts, chunk_texts)
    thresholds = {fw: classifier.calibrator.threshold(fw) for fw in {d.framework for d in drafts}}
    stats = {k: v for k, v in verification.stats.items() if k != "dropped"}
    stats.update(model=verification.model_id, prompt_version=verification.prompt_version,
                 errors=stats["errors"][:3])
    return apply_verdicts(drafts, verification, thresholds), stats


def suggest_document(*, db, vectors, classifier: Classifier, tenant_id: str, document_id: str,
                     verifier=None, examples: ExampleBank | None = None) -> dict:
    """Classify an indexed document and store a new run of suggestions; earlier runs stay for the record.

    With a verifier (LLM assist), its verdicts adjust the drafts before they are stored; without one, or when
    the model cannot answer, the classifier's suggestions are stored as they are (marked `unverified`).
    """
    with db.session() as s:
        doc = tenant_document(s, tenant_id, document_id)
        if doc.status != DocumentStatus.indexed:
            raise ClausewiseError(ErrorCode.document_not_indexed,
                                  f"document is {doc.status.value}; only indexed documents are classified")
        chunks = s.scalars(select(Chunk).where(Chunk.document_id == document_id).order_by(Chunk.idx)).all()
        kind = doc.kind
    vecs = _chunk_vectors(vectors, tenant_id, [c.id for c in chunks])
    result = classifier.classify([c.text for c in chunks], vecs, kind, examples=examples)
    drafts, llm_stats = result.drafts, None
    if verifier is not None:
        drafts, llm_stats = verify_drafts(classifier, verifier, result.drafts, [c.text for c in chunks])
    run_id = str(uuid.uuid4())
    now = utcnow()
    with db.session() as s:
        for d in drafts:
            c = chunks[d.chunk_index]
            s.add(Suggestion(
                tenant_id=tenant_id, document_id=document_id, run_id=run_id, framework=d.framework,
                control_id=d.control_id, rank=d.rank, raw_score=d.raw_score, confidence=d.confidence, state=d.state,
                source=d.source, chunk_id=c.id, quote=c.text, char_start=c.char_start, char_end=c.char_end,
                page=c.page, record_start=c.record_start, line_start=c.line_start, line_end=c.line_end,
                crosswalk_path=d.crosswalk_path, relationship=d.relationship, features=d.features,
                classifier_version=classifier.version, embedder_id=classifier.embedder.id,
                catalog_version=classifier.catalog.version, config_hash=classifier.config_hash, created_at=now,
                llm_verdict=d.llm_verdict, llm_rationale=d.llm_rationale, llm_model=d.llm_model,
                prompt_version=d.prompt_version))
        s.get(Document, document_id).classification_run_id = run_id
    out = {"run_id": run_id, "suggestions": len(drafts), "seconds": round(result.seconds, 4),
           "classifier_version": classifier.version, "genre": result.extra.get("genre")}
    if llm_stats is not None:
        out["llm"] = llm_stats
    return out


def suggestion_public(sg: Suggestion, title: str | None = None) -> dict:
    return {
        "suggestion_id": sg.id, "document_id": sg.document_id, "run_id": sg.run_id, "framework": sg.framework,
        "control_id": sg.control_id, "title": title, "rank": sg.rank, "raw_score": sg.raw_score,
        "confidence": sg.confidence, "state": sg.state, "source": sg.source,
        "evidence": {"chunk_id": sg.chunk_id, "quote": sg.quote, "char_start": sg.char_start,
                     "char_end": sg.char_end, "page": sg.page, "record": sg.record_start,
                     "line_start": sg.line_start, "line_end": sg.line_end},
        "crosswalk": {"path": sg.crosswalk_path, "relationship": sg.relationship} if sg.crosswalk_path else None,
        "features": sg.features,
        "classifier_version": {"id": sg.classifier_version, "embedder_id": sg.embedder_id,
                               "catalog_version": sg.catalog_version, "config_hash": sg.config_hash},
        "created_at": sg.created_at.isoformat() if sg.created_at else None,
        **({"llm": {"verdict": sg.llm_verdict, "rationale": sg.llm_rationale, "model": sg.llm_model,
                    "prompt_version": sg.prompt_version}} if sg.llm_verdict else {}),
    }


def list_suggestions(*, db, catalog: Catalog, tenant_id: str, document_id: str, framework: str | None) -> dict:
    """The latest run's suggestions for a document, ranked per framework."""
    with db.session() as s:
        doc = tenant_document(s, tenant_id, document_id)
        if framework is not None and framework not in catalog.frameworks:
            raise ClausewiseError(ErrorCode.framework_not_found, f"unknown framework {framework!r}")
        q = select(Suggestion).where(Suggestion.document_id == document_id,
                                     Suggestion.run_id == (doc.classification_run_id or ""))
        if framework:
            q = q.where(Suggestion.framework == framework)
        rows = s.scalars(q.order_by(Suggestion.framework, Suggestion.rank)).all()
        items = [suggestion_public(r, catalog.control(r.framework, r.control_id).title) for r in rows]
    return {"document_id": document_id, "run_id": doc.classification_run_id, "status": doc.status,
            "items": items}
