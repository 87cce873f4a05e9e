"""What each control looks like to retrieval: several short 'views' for the dense side, one document for BM25."""

from __future__ import annotations

import re
from dataclasses import dataclass

from catalog import Catalog
from catalog.loader import AIRMF, CSF, ISO, NHI

CLASSIFIED = (ISO, CSF, NHI)
# SP 800-53 names that NIST references from many subcategories say nothing about any one of them.
_GENERIC_800_53 = {"Policy and Procedures", "Risk Assessment", "Continuous Monitoring", "Plan of Action and Milestones"}
_TOKEN = re.compile(r"[a-z0-9][a-z0-9._-]*[a-z0-9]|[a-z0-9]")


@dataclass(frozen=True)
class View:
    framework: str
    control_id: str
    kind: str
    text: str


def candidates(catalog: Catalog, framework: str) -> list[str]:
    """Control ids a document can be mapped to: the assessable leaves."""
    return [c.id for c in catalog.frameworks[framework].requirements()]


def views(catalog: Catalog, *, crosswalk_rationales: bool = True) -> list[View]:
    """Dense-retrieval views of every candidate control, from catalog text and its NIST-published neighbours.

    An ISO 42001 control also gets one view per project-authored crosswalk edge to CSF 2.0 or NHI: the edge's
    rationale says in concrete terms which security or machine-identity practice is evidence of it (for A.6.2.6
    "rotation jobs and their logs for the AI system's credentials are an ongoing operational control"). Edges
    derived mechanically (formulaic rationales) add nothing and are left out. Dense side only: in BM25 the
    rationales' shared wording would favour controls with many edges (measured, README "Classifier").
    """
    out: list[View] = []
    for fw in CLASSIFIED:
        frame = catalog.frameworks[fw]
        for cid in candidates(catalog, fw):
            c = frame.controls[cid]
            parent = frame.controls.get(c.parent) if c.parent else None
            head = f"{parent.title}: " if parent and fw == CSF else ""
            if fw == ISO:
                out.append(View(fw, cid, "title", f"{c.title}. {c.text}"))
                if c.evidence:
                    out.append(View(fw, cid, "evidence", c.evidence))
                hints = list(c.hints)
                for i in range(0, len(hints), 4):
                    out.append(View(fw, cid, "hints", f"{c.title}: " + "; ".join(hints[i:i + 4])))
                # NIST's AI RMF -> ISO 42001 crosswalk: the AI RMF text (public domain) says what the control covers
                for path in catalog.neighbours(fw, cid, to_framework=AIRMF):
                    rmf = catalog.control(AIRMF, path[-1].to_id)
                    out.append(View(fw, cid, "airmf", rmf.text))
                if crosswalk_rationales:
                    for path in catalog.neighbours(fw, cid):
                        hop = path[-1]
                        if len(path) == 1 and hop.to_framework in (CSF, NHI) and hop.provenance == "project":
                            out.append(View(fw, cid, "crosswalk", hop.rationale))
            elif fw == CSF:
                out.append(View(fw, cid, "text", head + c.text))
                out.extend(View(fw, cid, "example", ex) for ex in c.examples)
                extra = catalog.enrichment.get(CSF, {}).get(cid, {})
                out.extend(View(fw, cid, "csf11", t) for t in extra.get("csf11_text", []))
                names = [n for n in extra.get("sp800_53_names", []) if n not in _GENERIC_800_53]
                if names:
                    out.append(View(fw, cid, "sp800_53", f"{head}{'; '.join(names)}"))
            else:  # NHI
                out.append(View(fw, cid, "text", f"{c.title}. {c.text}"))
                out.extend(View(fw, cid, "prevent", f"{c.title}: {p}") for p in c.examples)
    return out


def lexical_documents(catalog: Catalog, framework: str) -> dict[str, str]:
    """One text per candidate control for BM25: every view of it joined."""
    docs: dict[str, list[str]] = {cid: [] for cid in candidates(catalog, framework)}
    for v in views(catalog, crosswalk_rationales=False):
        if v.framework == framework:
            docs[v.control_id].append(v.text)
    return {cid: " ".join(parts) for cid, parts in docs.items()}


STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
on once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which while
who whom why will with you your yours yourself yourselves e.g i.e etc also may must shall within per via""".split())


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words, light plural folding."""
    out = []
    for t in _TOKEN.findall(text.lower()):
        if t in STOPWORDS or len(t) < 2 or t.isdigit():
            continue
        if len(t) > 4 and t.endswith("s") and not t.endswith("ss"):
            t = t[:-1]
        out.append(t)
    return out
