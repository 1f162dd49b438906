"""Every model call goes through here: the reply cache first, then the budget check, then the call,
then the usage ledger. A reply is stored only when the caller says it proved good (keep). The offline
engine does not come through here (it costs nothing and is deterministic)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from factory.agents.request import AgentRequest, Completion, Provider, Usage
from factory.errors import FactoryError
from factory.llm.cache import ReplyCache, content_key
from factory.llm.usage import Prices, cost_usd, price_for
from factory.pack0.models import Budgets

# Fewer characters per token than text averages: the pre-call estimate must not fall short (code and
# JSON tokenise densely).
CHARS_PER_TOKEN = 3


class BudgetExceeded(FactoryError):
    """The next call could pass the Pack0's token or cost budget."""


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


def estimate_input_tokens(request: AgentRequest) -> int:
    """An over-estimate of what the request sends: context, instructions, prompt, correction, schema."""
    texts = [*request.context, request.system, request.prompt, *(request.correction or ()), *request.received]
    chars = sum(len(text) for text in texts) + len(json.dumps(request.reply_schema))
    return chars // CHARS_PER_TOKEN + 1


def worst_case(request: AgentRequest, max_tokens: int, prices: Prices | None) -> tuple[int, float]:
    """(tokens, USD) the call can cost at most: every input token written to the prompt cache (the
    dearer input rate) and max_tokens of output."""
    tokens = estimate_input_tokens(request)
    cost = 0.0 if prices is None else cost_usd(prices, Usage(output_tokens=max_tokens, cache_write_tokens=tokens))
    return tokens + max_tokens, cost


class ModelGateway:
    """A Provider that caches, budgets and meters another one."""

    def __init__(
        self,
        provider: Provider,
        cache: ReplyCache,
        ledger_path: Path,
        budgets: Budgets,
        prices: Prices | None = None,
    ) -> None:
        self.provider = provider
        self.name = provider.name
        self.model = provider.model
        self.cache = cache
        self.ledger_path = ledger_path
        self.budgets = budgets
        self.prices = price_for(self.model, prices)

    def request_key(self, request: AgentRequest) -> dict:
        return self.provider.request_key(request)

    def _check_budget(self, request: AgentRequest) -> None:
        where = f"the {request.agent}{':' + request.slice if request.slice else ''} call"
        if self.prices is None:
            raise BudgetExceeded(
                f"stopped before {where}: no price is known for model {self.model}, so the cost budget "
                f"(${self.budgets.cost_budget_usd}, budgets.json) cannot be kept; set its prices as the "
                "model_price setting (USD per million tokens: input,output,cache_write,cache_read)"
            )
        spent = summarize(read_ledger(self.ledger_path))
        used_tokens = sum(spent[name] for name in ("input_tokens", "output_tokens", "cache_write_tokens"))
        tokens, cost = worst_case(request, self.provider.max_tokens, self.prices)
        if used_tokens + tokens > self.budgets.token_budget:
            raise BudgetExceeded(
                f"stopped before {where}: it could pass the token budget ({used_tokens} used + up to {tokens} "
                f"(input and max_tokens {self.provider.max_tokens}) > {self.budgets.token_budget}, budgets.json "
                "token_budget)"
            )
        if spent["cost_usd"] + cost > self.budgets.cost_budget_usd:
            raise BudgetExceeded(
                f"stopped before {where}: it could pass the cost budget (${spent['cost_usd']:.4f} spent + up to "
                f"${cost:.4f} > ${self.budgets.cost_budget_usd}, budgets.json cost_budget_usd)"
            )

    def _record(self, request: AgentRequest, completion: Completion, seconds: float) -> None:
        entry = {
            "agent": request.agent,
            "slice": request.slice,
            "model": self.model,
            "cached": completion.cached,
            "truncated": completion.truncated,
            "usage": (Usage() if completion.cached else completion.usage).as_dict(),
            "cost_usd": 0.0 if completion.cached else cost_usd(self.prices, completion.usage),
            "seconds": round(seconds, 3),
        }
        self.ledger_path.parent.mkdir(parents=True, exist_ok=True)
        with self.ledger_path.open("a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(entry, sort_keys=True) + "\n")

    def complete(self, request: AgentRequest) -> Completion:
        started = time.monotonic()
        completion = self.cache.get(self.cache_key(request))
        if completion is None:
            self._check_budget(request)
            completion = self.provider.complete(request)
        self._record(request, completion, time.monotonic() - started)
        return completion

    def cache_key(self, request: AgentRequest) -> str:
        return content_key(self.provider.request_key(request))

    def fixes_for(self, request: AgentRequest) -> dict[str, str]:
        """Files of this request's stored reply that the Healer later had to fix: applied over the reply, so
        a reply proven bad does not bring its bug back on a re-run (or a fresh clone)."""
        return self.cache.get_fixes(self.cache_key(request))

    def remember_fixes(self, key: str, fixes: dict[str, str], agent: str, slice_name: str) -> None:
        self.cache.put_fixes(key, fixes, agent=agent, slice_name=slice_name)

    def keep(self, request: AgentRequest, completion: Completion) -> None:
        """Store a reply that parsed, validated and passed the path checks (never a truncated one)."""
        if completion.cached or completion.truncated:
            return
        self.cache.put(self.cache_key(request), completion, agent=request.agent, slice_name=request.slice)
