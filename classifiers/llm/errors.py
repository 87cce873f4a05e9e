"""The one error the LLM package raises to its callers."""

from __future__ import annotations


class LLMUnavailable(RuntimeError):
    """No model can be used (not configured, not installed, or its server would not start)."""
