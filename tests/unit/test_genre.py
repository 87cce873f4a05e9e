"""Reading a document's genre (classifiers/genre.py): title lines, ticket type, strengths and priors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from classifiers.genre import (
    GenreConfig,
    best_genre,
    document_head,
    genre_priors,
    genre_strengths,
    ticket_type,
    title_lines,
)


def test_title_lines_are_the_headings_a_document_opens_with():
    doc = "Ops wiki › Governance › Reviews\n\nQuarterly review of the model programme\nHeld on 3 May\n\n" \
          "The board met to discuss the following items. It agreed three actions."
    assert title_lines([doc]) == ["Ops wiki › Governance › Reviews", "Quarterly review of the model programme",
                                  "Held on 3 May"]


@pytest.mark.parametrize("prose", [
    "Organisations should establish policies that define roles. They should also review them.",
    "- Establish policies that define the AI risk management roles",
    "Risk management policies should be designed to:",
    " ".join(["word"] * 40),
])
def test_a_fragment_that_opens_with_a_sentence_has_no_title(prose):
    assert title_lines([prose + "\nmore text"]) == []


def test_ticket_type_from_a_bracketed_type_and_type_fields():
    jira = "OPS-12 [Risk acceptance] Accept drift risk until Q3\nProject: Ops\nStatus: Done"
    assert ticket_type([jira]) == ["Risk acceptance"]
    snow = "number: CHG001\nshort_description: Promote model\ntype: Normal\ncategory: AI model release"
    assert ticket_type([snow]) == ["Normal", "AI model release"]
    assert ticket_type(["A policy with no fields at all"]) == [] and ticket_type([]) == []


def test_document_head_folds_whitespace_and_stops_at_the_limit():
    head = document_head(["Title\n\n  line   two", "x" * 1000], max_chars=50)
    assert head.startswith("Title line two ") and len(head) <= 51


def _index(vectors_by_genre: list[list[list[float]]], priors: list[list[tuple[str, str, float]]]):
    vecs, owner, genres = [], [], []
    for g, (vs, ps) in enumerate(zip(vectors_by_genre, priors)):
        for v in vs:
            vecs.append(np.asarray(v, dtype=np.float32) / np.linalg.norm(v))
            owner.append(g)
        genres.append({"id": f"g{g}", "priors": [{"framework": f, "control_id": c, "weight": w} for f, c, w in ps]})
    return SimpleNamespace(genres=genres, genre_vectors=np.vstack(vecs), genre_owner=np.array(owner))


def test_strength_grows_with_similarity_and_only_the_best_genres_count():
    index = _index([[[1, 0, 0]], [[0.8, 0.6, 0]], [[0, 0, 1]]],
                   [[("ISO", "9.3", 1.0)], [("ISO", "9.2", 1.0), ("ISO", "10.2", 0.5)], [("ISO", "5.2", 1.0)]])
    cfg = GenreConfig(w_genre=1.0, floor=0.3, full=0.9, top=2, margin=0.25)
    s = genre_strengths(index, np.array([[1.0, 0.0, 0.0]]), cfg)
    assert s[0] == pytest.approx(1.0) and s[1] == pytest.approx((0.8 - 0.3) / 0.6) and s[2] == 0.0
    assert best_genre(index, s) == "g0"
    priors = genre_priors(index, s)
    assert priors == {"ISO": {"9.3": pytest.approx(1.0), "9.2": pytest.approx(s[1]),
                              "10.2": pytest.approx(0.5 * s[1])}}
    # a runner-up beyond the margin says nothing
    assert genre_strengths(index, np.array([[1.0, 0.0, 0.0]]), GenreConfig(margin=0.1))[1] == 0.0
    # the best of several readings (title lines) counts
    two = genre_strengths(index, np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), cfg)
    assert best_genre(index, two) == "g2"


def test_nothing_clear_means_no_genre():
    index = _index([[[1, 0]]], [[("ISO", "9.3", 1.0)]])
    s = genre_strengths(index, np.array([[0.2, 0.98]]), GenreConfig(floor=0.35))
    assert s.tolist() == [0.0] and best_genre(index, s) is None and genre_priors(index, s) == {}
