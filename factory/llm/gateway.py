"""Every model call goes through here: the reply cache first, then the budget check, then the call,
then the usage ledger. The offline engine does not (it costs nothing and is deterministic)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from factory.agents.request import AgentRequest, Completion, Provider
from factory.errors import FactoryError
from factory.llm.cache import ReplyCache, content_key
from factory.llm.usage import Usage, cost_usd, price_for
from factory.pack0.models import Budgets

# What a call is assumed to add on top of its prompt, for the check made before the call.
EXPECTED_OUTPUT_TOKENS = 4_000
CHARS_PER_TOKEN = 4


class BudgetExceeded(FactoryError):
    """The next call would pass the Pack0's token or cost budget."""


def read_ledger(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summarize(entries: list[dict]) -> dict:
    """Totals for the evidence: calls, requests really sent, tokens by kind, cost."""
    fields = ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")
    return {
        "calls": len(entries),
        "requests": sum(1 for entry in entries if not entry["cached"]),
        **{name: sum(entry["usage"][name] for entry in entries) for name in fields},
        "cost_usd": round(sum(entry["cost_usd"] for entry in entries), 6),
    }


def estimate_tokens(request: AgentRequest) -> int:
    text = request.shared + request.system + request.prompt + (request.correction[0] if request.correction else "")
    return len(text) // CHARS_PER_TOKEN + EXPECTED_OUTPUT_TOKENS


class ModelGateway:
    """A Provider that caches, budgets and meters another one."""

    def __init__(self, provider: Provider, cache: ReplyCache, ledger_path: Path, budgets: Budgets) -> None:
        self.provider = provider
        self.name = provider.name
        self.model = provider.model
        self.cache = cache
        self.ledger_path = ledger_path
        self.budgets = budgets

    def request_key(self, request: AgentRequest) -> dict:
        return self.provider.request_key(request)

    def _check_budget(self, request: AgentRequest) -> None:
        spent = summarize(read_ledger(self.ledger_path))
        used_tokens = sum(spent[name] for name in ("input_tokens", "output_tokens", "cache_write_tokens"))
        estimate = estimate_tokens(request)
        where = f"the {request.agent}{':' + request.slice if request.slice else ''} call"
        if used_tokens + estimate > self.budgets.token_budget:
            raise BudgetExceeded(
                f"stopped before {where}: it would pass the token budget ({used_tokens} used + ~{estimate} > "
                f"{self.budgets.token_budget}, budgets.json token_budget)"
            )
        if price_for(self.model) is not None:
            estimated_cost = cost_usd(self.model, Usage(input_tokens=estimate))
            if spent["cost_usd"] + estimated_cost > self.budgets.cost_budget_usd:
                raise BudgetExceeded(
                    f"stopped before {where}: it would pass the cost budget (${spent['cost_usd']:.4f} spent + "
                    f"~${estimated_cost:.4f} > ${self.budgets.cost_budget_usd}, budgets.json cost_budget_usd)"
                )

    def _record(self, request: AgentRequest, completion: Completion, seconds: float) -> None:
        entry = {
            "agent": request.agent,
            "slice": request.slice,
            "model": self.model,
            "cached": completion.cached,
            "usage": (Usage() if completion.cached else completion.usage).as_dict(),
            "cost_usd": 0.0 if completion.cached else cost_usd(self.model, completion.usage),
            "seconds": round(seconds, 3),
        }
        self.ledger_path.parent.mkdir(parents=True, exist_ok=True)
        with self.ledger_path.open("a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(entry, sort_keys=True) + "\n")

    def complete(self, request: AgentRequest) -> Completion:
        key = content_key(self.provider.request_key(request))
        started = time.monotonic()
        completion = self.cache.get(key)
        if completion is None:
            self._check_budget(request)
            completion = self.provider.complete(request)
            self.cache.put(key, completion)
        self._record(request, completion, time.monotonic() - started)
        return completion
