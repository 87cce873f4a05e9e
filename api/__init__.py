"""HTTP API (FastAPI), its dependencies and the `clausewise` command line."""
