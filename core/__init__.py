"""What the api, ingest, classifiers and eval packages share: settings, errors, SQL models, stores, embedder."""
