"""Ingestion: intake (streamed upload, hashing, size limit), type sniffing, sandboxed partitioning, record
splitting (`ingest.records`: one module per ticket/log format, one registry), chunking, embedding, indexing,
reconciliation of SQL and vectors, and the read services for documents, chunks and search.

May import core and catalog; never classifiers (they are independent), review, worker, eval, bench or api."""
