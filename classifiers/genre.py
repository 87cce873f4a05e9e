"""The document as a whole: its head (title, headings, opening) as one view, and the genre that head reads as.

A passage-by-passage reading follows a document's topic: a management review's minutes that discuss a supplier
score for the supplier control. What kind of document it is says which requirement it evidences on its own (a
management review record evidences 9.3 whatever it discusses). The head is read once per document; its similarity
to each genre's phrasings (catalog/data/genres.json) weights that genre's priors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

HEAD_CHARS = 600
TITLE_CHARS = 200
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class GenreConfig:
    """How a document's head turns into genre priors; part of the classifier version."""

    w_genre: float = 0.0      # weight of the genre priors added to fused scores
    w_doc: float = 0.0        # weight of the head's own similarity to each control's views
    floor: float = 0.35       # head-genre similarity below which a genre says nothing
    full: float = 0.60        # similarity at which a genre's priors count in full
    top: int = 2              # at most this many genres per document
    margin: float = 0.05      # a runner-up genre counts only within this of the best
    head_chars: int = HEAD_CHARS
    read: str = "title"  # what the genre is read from: "title" lines and ticket type, the "head" or "title+head"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def document_head(chunk_texts: list[str], max_chars: int = HEAD_CHARS) -> str:
    """The opening of the document (title, first headings and lines), whitespace folded."""
    out, n = [], 0
    for t in chunk_texts:
        t = _SPACE.sub(" ", t).strip()
        if not t:
            continue
        out.append(t[: max_chars - n])
        n += len(out[-1]) + 1
        if n >= max_chars:
            break
    return " ".join(out)


def _looks_like_title(line: str) -> bool:
    """A heading, not a sentence: short, no bullet, no sentence or clause ending."""
    return (0 < len(line) <= TITLE_CHARS and len(line.split()) <= 30 and not line.startswith(("-", "*", "•"))
            and not line.endswith((".", ":", ";", ",")))


def title_lines(chunk_texts: list[str], n: int = 3) -> list[str]:
    """What the document calls itself: its first lines while they read as headings (a breadcrumb, a title, a
    subtitle; a ticket's key, type and summary). Nothing for text that opens with a sentence: a fragment of
    prose has no genre."""
    out: list[str] = []
    for line in (chunk_texts[0].splitlines() if chunk_texts else []):
        line = _SPACE.sub(" ", line).strip()
        if not line:
            continue
        if not _looks_like_title(line) or len(out) == n:
            break
        out.append(line)
    return out


_BRACKETED = re.compile(r"\[([^\]]{3,40})\]")
_TYPE_FIELD = re.compile(r"^(?:issue ?type|type|category|u_category|kind)\s*[:=]\s*(.{3,60})$", re.IGNORECASE)


def ticket_type(chunk_texts: list[str]) -> list[str]:
    """A ticket's own statement of what it is: `KEY-1 [Risk acceptance] ...` or a `type:` / `category:` field
    among its first lines (Jira, ServiceNow, GitHub exports as ingestion renders them)."""
    lines = chunk_texts[0].splitlines()[:15] if chunk_texts else []
    out = _BRACKETED.findall(lines[0])[:2] if lines else []
    for line in lines[1:]:
        m = _TYPE_FIELD.match(line.strip())
        if m:
            out.append(m.group(1).strip())
    return out[:3]


def genre_similarities(index, vectors: np.ndarray) -> np.ndarray:
    """Per genre: the best similarity of any of the given vectors (title, head) to its names and views."""
    sims = index.genre_vectors @ np.atleast_2d(vectors).T        # (genre texts, vectors)
    best = np.full(len(index.genres), -1.0)
    np.maximum.at(best, index.genre_owner, sims.max(axis=1))
    return best


def genre_strengths(index, vectors: np.ndarray, config: GenreConfig) -> np.ndarray:
    """Per genre, in [0, 1]: how clearly the document reads as that kind (0 for all but the best few)."""
    n = len(index.genres)
    out = np.zeros(n)
    if not n or vectors is None:
        return out
    best = genre_similarities(index, vectors)
    order = np.argsort(-best)
    top = best[order[0]]
    for rank, g in enumerate(order[: config.top]):
        if rank and best[g] < top - config.margin:
            break
        out[g] = float(np.clip((best[g] - config.floor) / (config.full - config.floor), 0.0, 1.0))
    return out


def genre_priors(index, strengths: np.ndarray) -> dict[str, dict[str, float]]:
    """framework -> control -> prior in [0, 1] from the document's genres (the strongest genre per control)."""
    out: dict[str, dict[str, float]] = {}
    for g, strength in enumerate(strengths):
        if strength <= 0:
            continue
        for p in index.genres[g]["priors"]:
            cur = out.setdefault(p["framework"], {})
            cur[p["control_id"]] = max(cur.get(p["control_id"], 0.0), strength * float(p["weight"]))
    return out


def best_genre(index, strengths: np.ndarray) -> str | None:
    if not len(strengths) or strengths.max() <= 0:
        return None
    return index.genres[int(strengths.argmax())]["id"]
