"""Load, validate and traverse the catalog: four frameworks and the crosswalk edges between them."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

class FrameworkId(StrEnum):
    """The frameworks the catalog holds; the values are the ids stored and shown everywhere."""

    ISO_42001 = "ISO-IEC-42001-2023"
    CSF_2 = "NIST-CSF-2.0"
    NHI_TOP10 = "OWASP-NHI-TOP10-2025"
    AI_RMF = "NIST-AI-RMF-1.0"


ISO, CSF, NHI, AIRMF = FrameworkId.ISO_42001, FrameworkId.CSF_2, FrameworkId.NHI_TOP10, FrameworkId.AI_RMF
FRAMEWORKS = tuple(FrameworkId)
FRAMEWORK_FILES = {
    ISO: "iso-iec-42001-2023.json",
    CSF: "nist-csf-2.0.json",
    NHI: "owasp-nhi-top10-2025.json",
    AIRMF: "nist-ai-rmf-1.0.json",
}
ISO_DESCRIPTIONS = "iso-iec-42001-2023.descriptions.json"
RELATIONSHIPS = ("equal", "subset", "superset", "intersect", "related")
_INVERSE = {"subset": "superset", "superset": "subset"}
EDGE_FIELDS = ["from_framework", "from_id", "to_framework", "to_id", "relationship", "provenance", "rationale"]
NHI_ATTRIBUTION = (
    "OWASP Non-Human Identities Top 10 (2025), OWASP Non-Human Identities Top 10 project contributors, "
    "https://owasp.org/www-project-non-human-identities-top-10/ , licensed CC BY-SA 4.0; adapted "
    "(reformatted) by Clausewise."
)
# Structure the data must have; a load that disagrees fails loudly instead of serving a partial catalog.
EXPECTED = {
    ISO: {"annex_a_control": 38, "annex_a_objective": 9, "clause": 7},
    CSF: {"function": 6, "category": 22, "subcategory": 106},
    NHI: {"risk": 10},
    AIRMF: {"function": 4, "category": 19, "subcategory": 72},
}
LEAF_TYPES = {CSF: {"subcategory"}, NHI: {"risk"}, AIRMF: {"subcategory"}}


class CatalogError(ValueError):
    """The catalog data is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Control:
    """One element of a framework: a clause, control, subcategory or risk."""

    framework: str
    id: str
    type: str
    title: str
    text: str
    parent: str | None
    requirement: bool
    examples: tuple[str, ...] = ()
    evidence: str = ""
    hints: tuple[str, ...] = ()

    def public(self) -> dict:
        return {
            "framework": self.framework, "control_id": self.id, "type": self.type, "title": self.title,
            "text": self.text, "parent": self.parent, "requirement": self.requirement,
            "examples": list(self.examples), "evidence": self.evidence or None, "hints": list(self.hints),
        }


@dataclass(frozen=True)
class Framework:
    key: str
    name: str
    license: str
    sources: tuple[str, ...]
    controls: dict[str, Control] = field(repr=False)
    attribution: str | None = None

    def requirements(self) -> list[Control]:
        """The assessable leaves, in catalog order."""
        return [c for c in self.controls.values() if c.requirement]

    def count(self, type_: str) -> int:
        return sum(1 for c in self.controls.values() if c.type == type_)


@dataclass(frozen=True)
class Edge:
    from_framework: str
    from_id: str
    to_framework: str
    to_id: str
    relationship: str
    provenance: str
    rationale: str
    source_file: str


@dataclass(frozen=True)
class Hop:
    """One step of a traversal, with the relationship read in the direction travelled."""

    from_framework: str
    from_id: str
    to_framework: str
    to_id: str
    relationship: str
    provenance: str
    rationale: str

    def public(self) -> dict:
        return {
            "from": {"framework": self.from_framework, "control_id": self.from_id},
            "to": {"framework": self.to_framework, "control_id": self.to_id},
            "relationship": self.relationship, "provenance": self.provenance, "rationale": self.rationale,
        }


class Catalog:
    """The frameworks, their crosswalk graph, and the data version they came from."""

    def __init__(self, frameworks: dict[str, Framework], edges: list[Edge], version: str,
                 enrichment: dict[str, dict] | None = None) -> None:
        self.frameworks = frameworks
        self.edges = edges
        self.version = version
        # Retrieval-only text tied to a control (e.g. SP 800-53 names NIST references from a CSF subcategory).
        self.enrichment = enrichment or {}
        # What the form of evidence (an audit log export, say) shows before its content is read.
        self.evidence_forms: dict[str, list[dict]] = {}
        # Kinds of document (a management review record, a risk register...) and what each evidences on its own.
        self.genres: list[dict] = []
        # How long confirmed evidence of a control stays current: {framework: {"default": {...}, "rules": [...]}}.
        self.review_intervals: dict[str, dict] = {}
        self._adj: dict[tuple[str, str], list[Hop]] = defaultdict(list)
        for e in edges:
            self._adj[(e.from_framework, e.from_id)].append(
                Hop(e.from_framework, e.from_id, e.to_framework, e.to_id, e.relationship, e.provenance,
                    e.rationale))
            self._adj[(e.to_framework, e.to_id)].append(
                Hop(e.to_framework, e.to_id, e.from_framework, e.from_id,
                    _INVERSE.get(e.relationship, e.relationship), e.provenance, e.rationale))

    def framework(self, key: str) -> Framework:
        try:
            return self.frameworks[key]
        except KeyError:
            raise KeyError(key) from None

    def control(self, framework: str, control_id: str) -> Control:
        return self.framework(framework).controls[control_id]

    def review_interval(self, framework: str, control_id: str) -> tuple[int, str]:
        """The catalog's default review interval of a control in days, and why: the exact id or the longest
        matching id prefix of the framework's rules, else the framework's default (365 days if none)."""
        table = self.review_intervals.get(framework) or {}
        best: dict | None = None
        for rule in table.get("rules", ()):
            p = rule["prefix"]
            # "A.7" holds A.7.4 but not A.70; "PR.AA" holds PR.AA-05; "DE." holds every DE id
            matches = control_id == p or (control_id.startswith(p)
                                          and (p[-1] in ".-" or control_id[len(p)] in ".-"))
            if matches and (best is None or len(p) > len(best["prefix"])):
                best = rule
        chosen = best or table.get("default") or {"days": 365, "why": "default"}
        return int(chosen["days"]), str(chosen["why"])

    def find(self, control_id: str) -> list[Control]:
        """Every control with this id, across frameworks (ids rarely collide)."""
        return [f.controls[control_id] for f in self.frameworks.values() if control_id in f.controls]

    def neighbours(
        self, framework: str, control_id: str, *, to_framework: str | None = None, max_hops: int = 1
    ) -> list[list[Hop]]:
        """Crosswalk paths from a control, breadth first, each hop with its relationship and provenance.

        A path never revisits a control; with `to_framework` only paths ending there are returned.
        """
        self.control(framework, control_id)
        start = (framework, control_id)
        paths: list[list[Hop]] = []
        queue: deque[list[Hop]] = deque([[]])
        seen = {start}  # breadth first: the first path to reach a control is a shortest one
        while queue:
            path = queue.popleft()
            node = (path[-1].to_framework, path[-1].to_id) if path else start
            if len(path) >= max_hops:
                continue
            for hop in self._adj.get(node, ()):
                nxt = (hop.to_framework, hop.to_id)
                if nxt in seen:
                    continue
                seen.add(nxt)
                new = [*path, hop]
                if to_framework is None or hop.to_framework == to_framework:
                    paths.append(new)
                queue.append(new)
        return paths

    def edge_counts(self) -> dict[str, int]:
        """Edges between framework pairs, counted in either direction."""
        pairs = [(ISO, CSF), (NHI, ISO), (NHI, CSF), (AIRMF, ISO)]
        out = {}
        for a, b in pairs:
            out[f"{a}->{b}"] = sum(
                1 for e in self.edges if {e.from_framework, e.to_framework} == {a, b})
        return out

    def stats(self) -> dict:
        iso, csf, nhi, airmf = (self.frameworks[k] for k in FRAMEWORKS)
        return {
            ISO: {"annex_a_controls": iso.count("annex_a_control"), "requirements": len(iso.requirements())},
            CSF: {"functions": csf.count("function"), "categories": csf.count("category"),
                  "subcategories": csf.count("subcategory")},
            NHI: {"risks": nhi.count("risk")},
            AIRMF: {"subcategories": airmf.count("subcategory")},
            "crosswalk_edges": self.edge_counts(),
        }


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"catalog data file missing: {path}") from None
    except json.JSONDecodeError as e:
        raise CatalogError(f"catalog data file {path.name} is not valid JSON: {e}") from None


def _framework(key: str, data_dir: Path) -> Framework:
    raw = _read_json(data_dir / FRAMEWORK_FILES[key])
    if raw.get("framework") != key:
        raise CatalogError(f"{FRAMEWORK_FILES[key]} declares framework {raw.get('framework')!r}, expected {key}")
    authored = _read_json(data_dir / ISO_DESCRIPTIONS)["items"] if key == ISO else {}
    controls: dict[str, Control] = {}
    for item in raw["items"]:
        cid = item["id"]
        if cid in controls:
            raise CatalogError(f"{key}: duplicate id {cid}")
        if key == ISO:
            mine = authored.get(cid)
            if not mine or not mine.get("description"):
                raise CatalogError(f"{key}: no project-authored description for {cid}")
            text, evidence, hints = mine["description"], mine.get("evidence", ""), tuple(mine.get("hints", ()))
            requirement, examples = bool(item.get("requirement")), ()
        else:
            text, evidence, hints = item.get("text") or "", "", ()
            requirement = item["type"] in LEAF_TYPES[key]
            examples = tuple(item.get("examples") or item.get("how_to_prevent") or ())
        controls[cid] = Control(key, cid, item["type"], item.get("title") or cid, text, item.get("parent"),
                                requirement, examples, evidence, hints)
    for c in controls.values():
        if c.parent is not None and c.parent not in controls:
            raise CatalogError(f"{key}: {c.id} has unknown parent {c.parent}")
    fw = Framework(key, raw["name"], raw["license"], tuple(raw.get("sources", ())), controls,
                   NHI_ATTRIBUTION if key == NHI else None)
    for type_, n in EXPECTED[key].items():
        if fw.count(type_) != n:
            raise CatalogError(f"{key}: expected {n} {type_} entries, found {fw.count(type_)}")
    return fw


def _edges(data_dir: Path, frameworks: dict[str, Framework]) -> list[Edge]:
    edges, seen = [], set()
    files = sorted((data_dir / "crosswalks").glob("*.csv"))
    if not files:
        raise CatalogError("no crosswalk files found")
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != EDGE_FIELDS:
                raise CatalogError(f"{path.name}: header must be {','.join(EDGE_FIELDS)}")
            for n, row in enumerate(reader, start=2):
                e = Edge(**{k: (row[k] or "").strip() for k in EDGE_FIELDS}, source_file=path.name)
                where = f"{path.name}:{n}"
                for fw, cid in ((e.from_framework, e.from_id), (e.to_framework, e.to_id)):
                    if fw not in frameworks or cid not in frameworks[fw].controls:
                        raise CatalogError(f"{where}: endpoint {fw} {cid} is not in the catalog")
                if e.relationship not in RELATIONSHIPS:
                    raise CatalogError(f"{where}: relationship {e.relationship!r} not in {RELATIONSHIPS}")
                if not e.provenance or not e.rationale:
                    raise CatalogError(f"{where}: provenance and rationale are required")
                key = (e.from_framework, e.from_id, e.to_framework, e.to_id)
                if key in seen:
                    raise CatalogError(f"{where}: duplicate edge {key}")
                seen.add(key)
                edges.append(e)
    return edges


def _enrichment(data_dir: Path, frameworks: dict[str, Framework]) -> dict[str, dict]:
    """Per-framework retrieval text keyed by control id; ids that are not controls are refused."""
    out: dict[str, dict] = {}
    for path in sorted((data_dir / "enrichment").glob("*.json")):
        raw = _read_json(path)
        fw = raw.get("framework")
        if fw not in frameworks:
            raise CatalogError(f"{path.name}: unknown framework {fw!r}")
        known = frameworks[fw].controls
        for cid, extra in raw["items"].items():
            if cid not in known:
                raise CatalogError(f"{path.name}: {cid} is not a {fw} control")
            out.setdefault(fw, {}).setdefault(cid, {}).update(extra)
    return out


def _evidence_forms(data_dir: Path, frameworks: dict[str, Framework]) -> dict[str, list[dict]]:
    path = data_dir / "evidence_forms.json"
    if not path.exists():
        return {}
    forms = _read_json(path)["forms"]
    for kind, priors in forms.items():
        for p in priors:
            if p["framework"] not in frameworks or p["control_id"] not in frameworks[p["framework"]].controls:
                raise CatalogError(
                    f"evidence_forms.json: {kind} names unknown control {p['framework']} {p['control_id']}")
            if not 0 <= float(p["weight"]) <= 1 or not p.get("rationale"):
                raise CatalogError(f"evidence_forms.json: {kind} prior needs a weight in [0, 1] and a rationale")
    return forms


def _genres(data_dir: Path, frameworks: dict[str, Framework]) -> list[dict]:
    path = data_dir / "genres.json"
    if not path.exists():
        return []
    genres = _read_json(path)["genres"]
    seen = set()
    for g in genres:
        if g["id"] in seen or not all(g.get(k) for k in ("names", "views", "priors", "rationale")):
            raise CatalogError(f"genres.json: {g['id']} needs a unique id, names, views, priors and a rationale")
        seen.add(g["id"])
        for p in g["priors"]:
            if p["framework"] not in frameworks or p["control_id"] not in frameworks[p["framework"]].controls:
                raise CatalogError(f"genres.json: {g['id']} names unknown control {p['framework']} {p['control_id']}")
            if not 0 <= float(p["weight"]) <= 1:
                raise CatalogError(f"genres.json: {g['id']} prior weight must be in [0, 1]")
    return genres


def _review_intervals(data_dir: Path, frameworks: dict[str, Framework]) -> dict[str, dict]:
    path = data_dir / "review_intervals.json"
    if not path.exists():
        return {}
    data = _read_json(path)["data"]
    for key, table in data.items():
        if key not in frameworks:
            raise CatalogError(f"review_intervals.json: unknown framework {key!r}")
        for rule in [table.get("default", {"days": 365}), *table.get("rules", [])]:
            if not isinstance(rule.get("days"), int) or not 1 <= rule["days"] <= 3660:
                raise CatalogError(f"review_intervals.json: {key} rule {rule!r} needs days in 1..3660")
    return data


def _check_minimums(cat: Catalog) -> None:
    """Every Annex A control reaches CSF 2.0; every NHI risk reaches ISO 42001 once and CSF 2.0 twice."""
    for c in cat.frameworks[ISO].controls.values():
        if c.type == "annex_a_control" and not cat.neighbours(ISO, c.id, to_framework=CSF):
            raise CatalogError(f"Annex A control {c.id} has no NIST CSF 2.0 edge")
    for c in cat.frameworks[NHI].controls.values():
        if len(cat.neighbours(NHI, c.id, to_framework=ISO)) < 1:
            raise CatalogError(f"{c.id} has no ISO/IEC 42001 edge")
        if len(cat.neighbours(NHI, c.id, to_framework=CSF)) < 2:
            raise CatalogError(f"{c.id} has fewer than two NIST CSF 2.0 edges")


def data_version(data_dir: Path = DATA_DIR) -> str:
    """Hash of every data file the catalog is built from."""
    h = hashlib.sha256()
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".csv"):
            h.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return "cat-" + h.hexdigest()[:16]


def build_catalog(data_dir: Path = DATA_DIR) -> Catalog:
    """Load and validate the catalog from a data directory."""
    frameworks = {key: _framework(key, data_dir) for key in FRAMEWORKS}
    cat = Catalog(frameworks, _edges(data_dir, frameworks), data_version(data_dir), _enrichment(data_dir, frameworks))
    _check_minimums(cat)
    cat.evidence_forms = _evidence_forms(data_dir, frameworks)
    cat.genres = _genres(data_dir, frameworks)
    cat.review_intervals = _review_intervals(data_dir, frameworks)
    return cat


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The packaged catalog, loaded once per process."""
    return build_catalog(DATA_DIR)
