"""Ingestion: intake, type sniffing, partitioning, record splitting, chunking, embedding, indexing, tasks."""
