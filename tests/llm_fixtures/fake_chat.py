"""A langchain chat model that answers the verifier's tool call without a network: the unit-test stand-in.

It honours the same contract as a real endpoint (tests/service/test_llm.py runs one contract suite against both): it
reads the forced tool's schema, answers one entry per candidate id with a verdict and a quote copied from the
evidence, and reports token usage. Knobs let tests make it fail, name ids outside the candidate set, or obey
instructions planted in the evidence (to show what the structural defences do with a model that is fooled).
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult


class FakeVerdictChat(BaseChatModel):
    """Judges a candidate `supported` when a word of its description (5+ letters) occurs in the evidence."""

    fail_with: str | None = None        # raise ConnectionError(fail_with) on every call
    extra_ids: list[str] = []           # ids it adds to every answer, outside the candidate set
    obey_planted: bool = False          # a fooled model: "supported" for everything when evidence says so
    calls: list[dict] = []

    @property
    def _llm_type(self) -> str:
        return "fake-verdicts"

    def bind_tools(self, tools, *, tool_choice=None, **kwargs):
        return self.bind(tools=tools, tool_choice=tool_choice, **kwargs)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        self.calls.append({"messages": messages, "kwargs": kwargs})
        if self.fail_with:
            raise ConnectionError(self.fail_with)
        schema = kwargs["tools"][0]["function"]["parameters"]
        ids = list(schema["properties"])
        user = messages[-1].content
        evidence = dict(re.findall(r'<evidence id="(E\d+)">\n(.*?)\n</evidence>', user, re.S))
        listed = {m[0]: (m[1], m[2]) for m in re.findall(r"^- (\S+) \(.*?evidence (E\d+)\): (.*)$", user, re.M)}
        planted = self.obey_planted and re.search(r"ignore|reviewer|supported", " ".join(evidence.values()), re.I)
        args = {}
        for cid in ids:
            eid, desc = listed.get(cid, ("", ""))
            text = evidence.get(eid, "")
            words = set(re.findall(r"[a-z]{5,}", desc.lower()))
            hit = next((w for w in re.findall(r"[a-z]{5,}", text.lower()) if w in words), None)
            quote = " ".join(text.split()[:6])
            args[cid] = {"quote": quote, "verdict": "supported" if hit or planted else "not_supported"}
        for x in self.extra_ids:
            args[x] = {"quote": "", "verdict": "supported"}
        msg = AIMessage(content="", tool_calls=[{"name": kwargs["tool_choice"], "args": args, "id": "call_0"}],
                        usage_metadata={"input_tokens": len(user) // 4, "output_tokens": 30 * len(args),
                                        "total_tokens": len(user) // 4 + 30 * len(args)})
        return ChatResult(generations=[ChatGeneration(message=msg)])
