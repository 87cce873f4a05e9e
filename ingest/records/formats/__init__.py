"""One module per record format; each exposes its RecordFormat object(s), listed in ../registry.py."""
