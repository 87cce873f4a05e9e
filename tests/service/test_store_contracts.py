"""One contract, two implementations: the fakes unit tests use (tests/fakes.py) must behave like the real
embedding model and the real Chroma store (embedded and server) on everything the code relies on."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import FakeEmbedder, InMemoryVectorStore

from core.embedder import DIMENSION

pytestmark = [pytest.mark.needs_model]


@pytest.fixture(params=["fake", "real"])
def embedder(request):
    if request.param == "fake":
        return FakeEmbedder()
    from core.embedder import get_embedder

    return get_embedder()


@pytest.fixture(params=["fake", "embedded", "server"])
def store(request, tmp_path):
    if request.param == "fake":
        yield InMemoryVectorStore()
        return
    from core.vectors import VectorStore

    url = str(tmp_path / "chroma") if request.param == "embedded" else request.getfixturevalue("chroma_server")
    vs = VectorStore(url)
    yield vs
    vs.close()


def test_embedder_contract(embedder):
    empty = embedder.embed([])
    assert empty.shape == (0, DIMENSION) and empty.dtype == np.float32
    texts = ["Service account keys are rotated every 90 days.",
             "Rotation of the keys of service accounts happens every 90 days.",
             "The cafeteria serves tomato soup on Fridays."]
    vecs = embedder.embed(texts)
    assert vecs.shape == (3, DIMENSION) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.allclose(embedder.embed(texts[:1])[0], vecs[0], atol=1e-5)  # deterministic
    assert float(vecs[0] @ vecs[1]) > float(vecs[0] @ vecs[2]) + 0.2  # related texts are closer
    assert embedder.dimension == DIMENSION and embedder.id


def _vec(*hot: int) -> np.ndarray:
    v = np.zeros(DIMENSION, dtype=np.float32)
    v[list(hot)] = 1.0
    return v / np.linalg.norm(v)


def test_vector_store_contract(store):
    assert store.query("tenant-a", _vec(0), k=5) == []  # a tenant's first query: nothing, no error
    assert store.ids("tenant-a") == set() and store.count("tenant-a") == 0
    ids = ["c1", "c2", "c3"]
    vecs = np.stack([_vec(0), _vec(0, 1), _vec(5)])
    metas = [{"document_id": "d1", "idx": 0, "page": None}, {"document_id": "d1", "idx": 1, "page": 2},
             {"document_id": "d2", "idx": 0, "kind": ["not", "scalar"]}]
    store.upsert("tenant-a", ids, vecs, metas)
    store.upsert("tenant-a", ids[:1], vecs[:1], metas[:1])  # upsert twice: still one vector
    assert store.ids("tenant-a") == set(ids) and store.count("tenant-a") == 3
    assert store.ids("tenant-a", document_id="d1") == {"c1", "c2"}
    assert store.ids("tenant-b") == set()  # tenants are apart
    got = store.embeddings("tenant-a", ["c2", "missing"])
    assert set(got) == {"c2"} and np.allclose(got["c2"], vecs[1], atol=1e-5)
    assert store.owners("tenant-a", ["c1", "c3"]) == {"c1": "d1", "c3": "d2"}
    hits = store.query("tenant-a", _vec(0), k=2)
    assert [h["id"] for h in hits] == ["c1", "c2"] and hits[0]["distance"] <= hits[1]["distance"]
    assert abs(hits[0]["distance"]) < 1e-4  # cosine distance of a vector to itself
    assert "page" not in hits[0]["metadata"] and hits[1]["metadata"]["page"] == 2  # None is dropped
    only_d2 = store.query("tenant-a", _vec(0), k=5, where={"document_id": "d2"})
    assert [h["id"] for h in only_d2] == ["c3"] and only_d2[0]["metadata"]["kind"] == "['not', 'scalar']"
    with pytest.raises(ValueError):
        store.upsert("tenant-a", ["x"], np.zeros((1, 3), dtype=np.float32), [{}])
    store.delete("tenant-a", ["c1", "never-there"])
    assert store.ids("tenant-a") == {"c2", "c3"}
    assert store.heartbeat()
