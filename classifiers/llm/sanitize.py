"""Evidence as the model sees it: sanitised against text that tries to instruct the model (prompt injection).

Visible text only (NFKC; HTML comments and Unicode format characters such as zero-width and bidi marks
removed), block delimiters escaped so the document cannot open or close an `<evidence>` block, and every
sentence that addresses an AI reviewer replaced by a marker.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Part of PROMPT_VERSION (see prompt.py): raise it whenever sanitise() changes what the model sees, so cached
# verdicts judged on differently sanitised evidence are not reused.
SANITISER_VERSION = 2

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_ADDRESSED = [re.compile(p, re.I) for p in (
    r"\b(ignore|disregard|forget|override|bypass)\b[^.\n]{0,80}\b(instructions?|prompts?|rules?|guidelines?|context)\b",
    r"\b(system|developer|assistant)\s*(prompt|message)?\s*:",
    r"\byou\s+(are|must|should|will)\s+(now\s+)?(an?\s+)?(ai|assistant|model|auditor|reviewer|chatbot|language)",
    r"\b(as an?|dear)\s+(ai|llm|language model|assistant|auditor|reviewer)\b",
    r"\bconfidence\s*(score\s*)?(of|=|:|to)?\s*(1(\.0+)?|100\s*%)",
    r"\b(map|classify|label|mark|rate|tag|assign)\b[^.\n]{0,60}\b(every|all|each)\b[^.\n]{0,40}"
    r"\b(controls?|requirements?|candidates?|clauses?|labels?)\b",
    r"\b(every|all|each)\s+(listed\s+)?(controls?|requirements?|candidates?)\b[^.\n]{0,40}\b(supported|satisfied|met)\b",
    r"<\|?(im_start|im_end|system|assistant|user)\|?>",
)]
_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")
ADDRESSED_MARKER = "[text addressed to an AI reviewer removed]"


@dataclass
class Sanitised:
    text: str
    hidden_removed: int = 0
    addressed_removed: int = 0


def sanitise(text: str) -> Sanitised:
    """Evidence as the model sees it: visible text only, delimiters escaped, text aimed at the model
    removed."""
    t = unicodedata.normalize("NFKC", text)
    no_comments = _HTML_COMMENT.sub(" ", t)
    hidden = int(no_comments != t)
    # zero-width, bidi and tag characters (Unicode category Cf) hide text from a reader but not from a model
    visible = "".join(c for c in no_comments if unicodedata.category(c) != "Cf")
    hidden += int(len(visible) != len(no_comments))
    addressed = 0
    out = []
    for m in _SENTENCE.finditer(visible):
        s = m.group(0)
        if s and any(p.search(s) for p in _ADDRESSED):
            addressed += 1
            out.append(ADDRESSED_MARKER + (" " if not s.endswith("\n") else "\n"))
        else:
            out.append(s)
    cleaned = "".join(out).replace("<", "‹").replace(">", "›")   # the document cannot open or close a block
    cleaned = re.sub(r"[ \t]+", " ", cleaned).strip()
    return Sanitised(cleaned, hidden, addressed)


def clip(text: str, limit: int) -> str:
    """text cut at a word boundary to at most `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"
