"""Chat-model backends (langchain) and the table that builds one from settings.

`ChatBackend` wraps a langchain chat model and asks it for a structured answer: a forced tool call
(OpenAI-compatible servers) or a JSON schema as response format (Ollama). `BACKENDS` maps each `llm_mode` to
the function that builds its backend from the settings; adding a backend is one such function plus one entry
there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LLMUnavailable
from .local_server import LOCAL_MODEL_ALIAS, assemble_local_model, local_model_id, shared_server
from .prompt import TOOL_NAME

SEED = 42


@dataclass
class ChatAnswer:
    args: Any
    prompt_tokens: int | None
    completion_tokens: int | None


class ChatBackend:
    """A langchain chat model and how to ask it for a structured answer: a forced tool call, or a JSON
    schema."""

    def __init__(self, chat, *, model_id: str, structure: str = "tool", extra_body: dict | None = None,
                 revive: Callable[[], None] | None = None) -> None:
        self.chat = chat
        self.model_id = model_id
        self.structure = structure
        self.extra_body = extra_body or {}
        self.revive = revive   # restarts a server this process owns if it died; called before each call

    def ask(self, messages: Sequence[tuple[str, str]], schema: dict, max_tokens: int) -> ChatAnswer:
        """One call; raises on transport errors, timeouts and answers without the structured part."""
        if self.structure == "tool":
            tool = {"type": "function", "function": {
                "name": TOOL_NAME, "description": "Record one verdict per candidate control.",
                "parameters": schema}}
            kw: dict = {"max_tokens": max_tokens}
            if self.extra_body:
                kw["extra_body"] = {k: (max_tokens if v == "max_tokens" else v)
                                    for k, v in self.extra_body.items()}
            msg = self.chat.bind_tools([tool], tool_choice=TOOL_NAME).invoke(list(messages), **kw)
            calls = [c for c in (msg.tool_calls or []) if c.get("name") == TOOL_NAME]
            if not calls:
                bad = getattr(msg, "invalid_tool_calls", None)
                raise ValueError(f"no {TOOL_NAME} call in the answer"
                                 + (f" (invalid: {str(bad)[:200]})" if bad else ""))
            args = calls[0]["args"]
        else:   # "json": the schema as response format (Ollama's `format`)
            msg = self.chat.bind(format=schema).invoke(list(messages))
            args = msg.content if isinstance(msg.content, str) else json.dumps(msg.content)
        usage = getattr(msg, "usage_metadata", None) or {}
        return ChatAnswer(args, usage.get("input_tokens"), usage.get("output_tokens"))


def openai_backend(*, base_url: str, model: str, api_key: str, timeout_s: float,
                   llama_cpp_server: bool = False, model_id: str | None = None) -> ChatBackend:
    """Any OpenAI-compatible endpoint (hosted, vLLM, LM Studio, llama.cpp's servers) through
    langchain-openai."""
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(model=model, base_url=base_url, api_key=api_key or "not-needed", temperature=0,
                      seed=SEED, timeout=timeout_s, max_retries=0)
    # langchain-openai sends max_completion_tokens; llama-cpp-python's server only reads max_tokens
    return ChatBackend(chat, model_id=model_id or model, structure="tool",
                       extra_body={"max_tokens": "max_tokens"} if llama_cpp_server else None)


def ollama_backend(*, base_url: str | None, model: str, timeout_s: float) -> ChatBackend:
    """An Ollama server through langchain-ollama; the answer is constrained by the schema as `format`."""
    from langchain_ollama import ChatOllama

    chat = ChatOllama(model=model, base_url=base_url, temperature=0, seed=SEED, num_predict=800,
                      client_kwargs={"timeout": timeout_s})
    return ChatBackend(chat, model_id=f"ollama:{model}", structure="json")


# --- construction from settings: llm_mode -> constructor --------------------------------------------------

def _openai_compatible(settings) -> ChatBackend:
    if not settings.llm_base_url or not settings.llm_model:
        raise LLMUnavailable("llm_mode=openai-compatible needs CLAUSEWISE_LLM_BASE_URL and "
                             "CLAUSEWISE_LLM_MODEL")
    return openai_backend(base_url=settings.llm_base_url, model=settings.llm_model,
                          api_key=settings.llm_api_key.get_secret_value(), timeout_s=settings.llm_timeout_s)


def _ollama(settings) -> ChatBackend:
    if not settings.llm_model:
        raise LLMUnavailable("llm_mode=ollama needs CLAUSEWISE_LLM_MODEL (and CLAUSEWISE_LLM_BASE_URL)")
    return ollama_backend(base_url=settings.llm_base_url, model=settings.llm_model,
                          timeout_s=settings.llm_timeout_s)


def _local(settings) -> ChatBackend:
    """The packaged model on a llama-cpp-python server: one someone already runs, else one this process
    owns."""
    key = settings.llm_api_key.get_secret_value()
    if settings.llm_base_url:   # a llama-cpp-python server someone already runs
        model = settings.llm_model or LOCAL_MODEL_ALIAS
        return openai_backend(base_url=settings.llm_base_url, model=model, api_key=key,
                              timeout_s=settings.llm_timeout_s, llama_cpp_server=True)
    if settings.llm_model:
        path = Path(settings.llm_model)
    else:
        path = assemble_local_model(settings.data_dir / "models")
    if not path.is_file():
        raise LLMUnavailable(f"no GGUF file at {path}")
    server = shared_server(path, log_path=settings.data_dir / "llama-server.log")
    backend = openai_backend(base_url=server.base_url, model=LOCAL_MODEL_ALIAS, api_key=key,
                             timeout_s=settings.llm_timeout_s, llama_cpp_server=True,
                             model_id=local_model_id(path))
    backend.revive = server.ensure_running
    return backend


BACKENDS: dict[str, Callable[[Any], ChatBackend]] = {
    "openai-compatible": _openai_compatible,
    "ollama": _ollama,
    "local": _local,
}


def backend_from_settings(settings) -> ChatBackend:
    """The chat backend the settings name; raises LLMUnavailable when it cannot be had."""
    build = BACKENDS.get(settings.llm_mode)
    if build is None:
        raise LLMUnavailable(f"unknown llm_mode {settings.llm_mode!r}")
    return build(settings)
