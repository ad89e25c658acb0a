"""Retrying the action that moves the data, and nothing else.

The retry goes around the Spark *action* (NOTES #2: ``spark.read...load()`` is lazy, so a retry
around it retries nothing that can fail), only for errors the connector classifies as transient
(``BaseConnector.is_transient``, decided from SQLState and vendor codes), with exponential
backoff and full jitter (a random wait in ``[0, min(cap, base * 2**n)]``, so parallel writers do
not hammer a recovering server in step), bounded both in attempts and in total time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from dvt_connect.errors import UsageError

T = TypeVar("T")

OnRetry = Callable[[int, BaseException, float], None]


@dataclass(frozen=True)
class RetryConfig:
    """How hard to try. ``max_attempts`` counts the first try; ``max_elapsed`` bounds the whole
    run: no retry starts whose wait would end past it."""

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_elapsed: float = 600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError(f"retry attempts must be at least 1, not {self.max_attempts}.")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_elapsed < 0:
            raise UsageError("retry delays and the time limit cannot be negative.")

    @classmethod
    def none(cls) -> RetryConfig:
        return cls(max_attempts=1)


class RetryHandler:
    """Runs an action, re-running it after transient failures.

    ``sleep``, ``clock`` and ``rng`` are injectable so tests run instantly and exactly.
    """

    def __init__(
        self,
        config: RetryConfig | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config or RetryConfig()
        self._sleep = sleep
        self._clock = clock
        self._random = rng
        self.retries = 0

    def backoff(self, retry: int) -> float:
        """Full jitter: uniform in ``[0, min(max_delay, base_delay * 2**retry)]``."""
        ceiling = min(self.config.max_delay, self.config.base_delay * (2 ** retry))
        return ceiling * self._random()

    def run(
        self,
        action: Callable[[], T],
        is_transient: Callable[[BaseException], bool],
        *,
        on_retry: OnRetry | None = None,
    ) -> tuple[T, int]:
        """Return ``(result, retries)``. A non-transient error propagates at once; a transient one
        propagates when attempts or time run out. ``on_retry(attempt, error, delay)`` is called
        before each wait, ``attempt`` being the number of the attempt that just failed."""
        started = self._clock()
        self.retries = 0
        while True:
            try:
                return action(), self.retries
            except Exception as exc:
                attempt = self.retries + 1
                if attempt >= self.config.max_attempts or not is_transient(exc):
                    raise
                delay = self.backoff(self.retries)
                if self._clock() - started + delay > self.config.max_elapsed:
                    raise
                if on_retry is not None:
                    on_retry(attempt, exc, delay)
                self._sleep(delay)
                self.retries += 1
