"""The classifier: retrieval of catalog controls, BM25, scoring and fusion, supervised examples, crosswalk
proposals, calibration, the suggestions it stores, and the optional LLM verifier (`classifiers.llm`).

May import core and catalog; never ingest (they are independent), review (which consumes suggestions), worker,
eval, bench or api."""
