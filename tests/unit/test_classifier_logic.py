"""The classifier's logic end to end on the fakes: retrieval, BM25, fusion, crosswalk proposals, calibration and
ranking, without the embedding model (tests/service/test_classifier.py runs the real model)."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import FakeEmbedder

from catalog import load_catalog
from classifiers.examples import ExampleBank
from classifiers.profiles import CLASSIFIED
from classifiers.suggest import Classifier

TEXT = ["Secrets and API keys of service accounts are rotated every 90 days; long-lived credentials are forbidden.",
        "Every machine identity has an owner, and unused service accounts are disabled after 30 days.",
        "The secret scanner blocks commits that contain a key; a leaked key is revoked within one hour."]


@pytest.fixture(scope="module")
def classified():
    emb = FakeEmbedder()
    empty = ExampleBank(vectors=np.zeros((0, emb.dimension), dtype=np.float32), labels=[])
    clf = Classifier(load_catalog(), emb, examples=empty)
    return clf, clf.classify(TEXT, emb.embed(TEXT), kind=None)


def test_every_framework_gets_a_ranked_calibrated_list(classified):
    clf, result = classified
    for fw in CLASSIFIED:
        drafts = [d for d in result.drafts if d.framework == fw]
        assert [d.rank for d in drafts] == list(range(1, len(drafts) + 1)) and drafts
        assert len({d.control_id for d in drafts}) == len(drafts)
        scores = [d.raw_score for d in drafts]
        assert scores == sorted(scores, reverse=True)
        threshold = clf.calibrator.threshold(fw)
        for d in drafts:
            assert 0.0 <= d.confidence <= 1.0 and 0 <= d.chunk_index < len(TEXT)
            assert d.state == ("suggested" if d.confidence >= threshold else "needs_review")
            assert d.control_id in clf.catalog.frameworks[fw].controls


def test_the_lexical_side_finds_the_secret_risks_without_a_model(classified):
    _, result = classified
    nhi = [d.control_id for d in result.drafts if d.framework == "OWASP-NHI-TOP10-2025"]
    assert nhi[:2] == ["NHI7", "NHI2"], nhi  # long-lived secrets, then secret leakage
    csf = [d.control_id for d in result.drafts if d.framework == "NIST-CSF-2.0"]
    assert csf[0].startswith("PR.AA"), csf  # identities and credentials are managed


def test_crosswalk_proposals_name_their_path(classified):
    _, result = classified
    for d in result.drafts:
        if d.source == "crosswalk":
            assert d.crosswalk_path and d.relationship and d.framework != "ISO-IEC-42001-2023"
