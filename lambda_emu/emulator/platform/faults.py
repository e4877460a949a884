"""Injected faults, decided by the run's one seeded RNG (same seed, same run).

Today: duplicate delivery. AWS's queues are at-least-once, so any source (async, SQS, Kinesis) may
deliver an event twice even when nothing failed; a duplicate rate makes that happen on purpose.
"""

from __future__ import annotations

import random
from typing import Any


class Faults:
    def __init__(self, rng: random.Random, duplicate_rate: float = 0.0) -> None:
        self.rng = rng
        self.default_duplicate_rate = duplicate_rate
        self.duplicate_rates: dict[str, float] = {}

    def set_duplicate_rate(self, function_name: str | None, rate: float) -> None:
        if function_name is None:
            self.default_duplicate_rate = rate
        else:
            self.duplicate_rates[function_name] = rate

    def duplicate_rate(self, function_name: str) -> float:
        return self.duplicate_rates.get(function_name, self.default_duplicate_rate)

    def roll_duplicate(self, function_name: str) -> bool:
        """Should this delivery be followed by a duplicate? (The RNG is only drawn when a rate is set.)"""
        rate = self.duplicate_rate(function_name)
        return rate > 0 and self.rng.random() < rate

    def function_deleted(self, function_name: str) -> None:
        self.duplicate_rates.pop(function_name, None)

    def to_json(self) -> dict[str, Any]:
        return {
            "duplicateRate": self.default_duplicate_rate,
            "functions": [{"functionName": n, "duplicateRate": r} for n, r in sorted(self.duplicate_rates.items())],
        }
