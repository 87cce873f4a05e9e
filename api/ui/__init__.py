"""The reviewers' web UI: server-rendered pages under /ui/ on the same service functions as the API."""
