"""The packaged catalog: exact counts, resolvable crosswalks, edge minimums, traversal and versioning."""

import csv
import json
import shutil

import pytest

from catalog import RELATIONSHIPS, Catalog, CatalogError, Edge, load_catalog
from catalog.loader import AIRMF, CSF, DATA_DIR, ISO, NHI, build_catalog, data_version


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_framework_counts_are_exact(cat):
    s = cat.stats()
    assert s[ISO] == {"annex_a_controls": 38, "requirements": 70}
    assert s[CSF] == {"functions": 6, "categories": 22, "subcategories": 106}
    assert s[NHI] == {"risks": 10}
    assert s[AIRMF] == {"subcategories": 72}
    assert cat.frameworks[ISO].count("annex_a_objective") == 9


def test_edge_counts_count_both_directions(cat):
    counts = cat.stats()["crosswalk_edges"]
    assert set(counts) == {f"{ISO}->{CSF}", f"{NHI}->{ISO}", f"{NHI}->{CSF}", f"{AIRMF}->{ISO}"}
    assert counts[f"{AIRMF}->{ISO}"] == 280  # NIST's published crosswalk, de-duplicated
    manual = sum(1 for e in cat.edges if {e.from_framework, e.to_framework} == {ISO, CSF})
    assert counts[f"{ISO}->{CSF}"] == manual
    # both the harmonized-structure clause edges (CSF -> ISO) and the Annex A edges (ISO -> CSF) are counted
    assert any(e.from_framework == CSF for e in cat.edges if e.to_framework == ISO)
    assert any(e.from_framework == ISO for e in cat.edges if e.to_framework == CSF)


def test_every_crosswalk_endpoint_resolves(cat):
    for e in cat.edges:
        assert e.from_id in cat.frameworks[e.from_framework].controls, e
        assert e.to_id in cat.frameworks[e.to_framework].controls, e
        assert e.relationship in RELATIONSHIPS
        assert e.provenance and e.rationale


def test_every_annex_a_control_has_a_csf_edge(cat):
    annex = [c for c in cat.frameworks[ISO].controls.values() if c.type == "annex_a_control"]
    assert len(annex) == 38
    for c in annex:
        assert cat.neighbours(ISO, c.id, to_framework=CSF), c.id


def test_every_nhi_risk_has_one_iso_and_two_csf_edges(cat):
    for c in cat.frameworks[NHI].controls.values():
        assert len(cat.neighbours(NHI, c.id, to_framework=ISO)) >= 1, c.id
        assert len(cat.neighbours(NHI, c.id, to_framework=CSF)) >= 2, c.id


def test_project_edges_say_project_and_derived_edges_say_how(cat):
    for e in cat.edges:
        if e.source_file.endswith(".project.csv"):
            assert e.provenance == "project"
        if e.source_file.endswith(".derived.csv"):
            assert "harmonized" in e.provenance and "27001" in e.provenance
        if e.source_file.endswith(".nist.csv"):
            assert "NIST AIRC" in e.provenance


def test_iso_requirements_have_own_descriptions_and_evidence(cat):
    for c in cat.frameworks[ISO].requirements():
        assert c.text and c.text != c.title, c.id
        assert c.evidence, c.id
        assert len(c.hints) >= 5, c.id


def test_traversal_returns_every_hop_with_its_relationship():
    cat = load_catalog()
    paths = cat.neighbours(NHI, "NHI7", max_hops=2)
    assert paths and all(1 <= len(p) <= 2 for p in paths)
    assert any(len(p) == 2 for p in paths)
    for p in paths:
        assert p[0].from_framework == NHI and p[0].from_id == "NHI7"
        for a, b in zip(p, p[1:]):
            assert (a.to_framework, a.to_id) == (b.from_framework, b.from_id)
        assert all(h.relationship in RELATIONSHIPS and h.provenance for h in p)
    ends = [(p[-1].to_framework, p[-1].to_id) for p in paths]
    assert len(ends) == len(set(ends)), "each reachable control is reported once, by its shortest path"
    assert (NHI, "NHI7") not in ends


def test_reverse_traversal_inverts_subset_and_superset():
    base = load_catalog()
    edges = [
        Edge(ISO, "A.6.2.8", CSF, "PR.PS-04", "subset", "project", "logs", "t.csv"),
        Edge(NHI, "NHI7", CSF, "PR.AA-01", "superset", "project", "creds", "t.csv"),
        Edge(NHI, "NHI7", ISO, "A.6.2.6", "intersect", "project", "ops", "t.csv"),
    ]
    cat = Catalog(base.frameworks, edges, "test")
    [fwd] = cat.neighbours(ISO, "A.6.2.8")
    assert (fwd[0].to_id, fwd[0].relationship) == ("PR.PS-04", "subset")
    [back] = cat.neighbours(CSF, "PR.PS-04")
    assert (back[0].to_id, back[0].relationship) == ("A.6.2.8", "superset")
    [rev] = cat.neighbours(CSF, "PR.AA-01", to_framework=ISO, max_hops=2)
    assert [(h.to_id, h.relationship) for h in rev] == [("NHI7", "subset"), ("A.6.2.6", "intersect")]


def test_version_changes_when_data_changes(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    assert data_version(copy) == data_version(DATA_DIR) == load_catalog().version
    desc = copy / "iso-iec-42001-2023.descriptions.json"
    d = json.loads(desc.read_text())
    d["items"]["4.1"]["description"] += " Edited."
    desc.write_text(json.dumps(d))
    assert data_version(copy) != data_version(DATA_DIR)


def test_load_refuses_an_edge_to_an_unknown_control(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    with open(copy / "crosswalks" / "bad.project.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["from_framework", "from_id", "to_framework", "to_id", "relationship", "provenance",
                    "rationale"])
        w.writerow([ISO, "A.6.2.8", CSF, "PR.ZZ-99", "related", "project", "typo"])
    with pytest.raises(CatalogError, match="PR.ZZ-99"):
        build_catalog(copy)


def test_load_refuses_a_missing_subcategory(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    path = copy / "nist-csf-2.0.json"
    d = json.loads(path.read_text())
    d["items"] = [i for i in d["items"] if i["id"] != "GV.OC-05"]
    path.write_text(json.dumps(d))
    with pytest.raises(CatalogError, match="expected 106 subcategory"):
        build_catalog(copy)


def test_load_refuses_an_unknown_relationship(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    with open(copy / "crosswalks" / "bad.project.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["from_framework", "from_id", "to_framework", "to_id", "relationship", "provenance",
                    "rationale"])
        w.writerow([ISO, "A.6.2.8", CSF, "PR.PS-04", "maps_to", "project", "x"])
    with pytest.raises(CatalogError, match="maps_to"):
        build_catalog(copy)


def test_nhi_carries_its_cc_by_sa_attribution(cat):
    fw = cat.frameworks[NHI]
    assert "CC BY-SA 4.0" in fw.attribution and "owasp.org" in fw.attribution
    assert all(c.examples for c in fw.controls.values()), "every risk keeps its How to Prevent items"


def test_every_genre_has_names_views_a_rationale_and_known_controls(cat):
    assert len(cat.genres) >= 20
    for g in cat.genres:
        assert g["names"] and g["views"] and g["rationale"], g["id"]
        for p in g["priors"]:
            assert p["control_id"] in cat.frameworks[p["framework"]].controls and 0 <= p["weight"] <= 1
    # the standard's documented information about its own operation has a genre that evidences it
    evidenced = {p["control_id"] for g in cat.genres for p in g["priors"] if p["weight"] == 1.0}
    assert {"4.3", "5.2", "6.1.2", "6.1.3", "7.2", "8.1", "8.4", "9.1", "9.2.2", "9.3.3", "10.2"} <= evidenced


@pytest.mark.parametrize("change, message", [
    (lambda g: g["priors"].append({"framework": ISO, "control_id": "9.9.9", "weight": 1.0}), "9.9.9"),
    (lambda g: g["priors"][0].update(weight=1.5), "weight"),
    (lambda g: g.pop("rationale"), "rationale"),
])
def test_load_refuses_a_genre_that_names_an_unknown_control_or_lacks_a_reason(tmp_path, change, message):
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    raw = json.loads((copy / "genres.json").read_text())
    change(raw["genres"][0])
    (copy / "genres.json").write_text(json.dumps(raw))
    with pytest.raises(CatalogError, match=message):
        build_catalog(copy)
