"""RetryHandler: backoff with full jitter, bounded attempts and time, transient errors only.

Sleep, clock and randomness are injected, so these run instantly and exactly.
"""

from __future__ import annotations

import pytest

from dvt_connect.errors import UsageError
from dvt_connect.retry import RetryConfig, RetryHandler


class Transient(Exception):
    pass


class Terminal(Exception):
    pass


class FakeTime:
    """A clock that advances only when the handler sleeps (plus what an action costs)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, Transient)


def failing(times: int, error: type[Exception] = Transient, result: str = "done",
            cost: float = 0.0, clock: FakeTime | None = None):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def action() -> str:
        calls["n"] += 1
        if clock is not None:
            clock.now += cost
        if calls["n"] <= times:
            raise error(f"failure {calls['n']}")
        return result

    return action, calls


def handler(config: RetryConfig, time: FakeTime, rng: float = 1.0) -> RetryHandler:
    return RetryHandler(config, sleep=time.sleep, clock=time.clock, rng=lambda: rng)


def test_success_first_time_returns_result_and_zero_retries() -> None:
    time = FakeTime()
    action, calls = failing(0)
    assert handler(RetryConfig(), time).run(action, is_transient) == ("done", 0)
    assert calls["n"] == 1 and time.sleeps == []


def test_transient_failures_are_retried_with_exponential_ceiling() -> None:
    time = FakeTime()
    action, calls = failing(3)
    config = RetryConfig(max_attempts=5, base_delay=1.0, max_delay=3.0)
    result, retries = handler(config, time, rng=1.0).run(action, is_transient)
    assert (result, retries, calls["n"]) == ("done", 3, 4)
    # rng=1 gives the ceiling: base * 2**n, capped at max_delay
    assert time.sleeps == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("rng, expected", [(0.0, [0.0, 0.0]), (0.5, [0.25, 0.5])])
def test_full_jitter_scales_the_whole_ceiling(rng: float, expected: list[float]) -> None:
    time = FakeTime()
    action, _ = failing(2)
    handler(RetryConfig(base_delay=0.5), time, rng=rng).run(action, is_transient)
    assert time.sleeps == expected


def test_terminal_error_propagates_at_once() -> None:
    time = FakeTime()
    action, calls = failing(1, error=Terminal)
    with pytest.raises(Terminal, match="failure 1"):
        handler(RetryConfig(max_attempts=10), time).run(action, is_transient)
    assert calls["n"] == 1 and time.sleeps == []


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    time = FakeTime()
    action, calls = failing(99)
    h = handler(RetryConfig(max_attempts=3), time)
    with pytest.raises(Transient, match="failure 3"):
        h.run(action, is_transient)
    assert calls["n"] == 3 and len(time.sleeps) == 2 and h.retries == 2


def test_gives_up_when_the_next_wait_would_pass_the_time_limit() -> None:
    time = FakeTime()
    action, calls = failing(99, cost=10.0, clock=time)
    config = RetryConfig(max_attempts=100, base_delay=4.0, max_delay=4.0, max_elapsed=25.0)
    with pytest.raises(Transient):
        handler(config, time).run(action, is_transient)
    # 10 (try) + 4 (wait) + 10 (try) = 24; another wait would end at 28 > 25
    assert calls["n"] == 2 and time.sleeps == [4.0]


def test_on_retry_hears_the_failed_attempt_error_and_delay() -> None:
    time = FakeTime()
    action, _ = failing(2)
    heard: list[tuple[int, str, float]] = []
    handler(RetryConfig(base_delay=1.0), time).run(
        action, is_transient, on_retry=lambda n, exc, d: heard.append((n, str(exc), d)))
    assert heard == [(1, "failure 1", 1.0), (2, "failure 2", 2.0)]


def test_keyboard_interrupt_is_never_retried() -> None:
    time = FakeTime()

    def action() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        handler(RetryConfig(), time).run(action, lambda exc: True)
    assert time.sleeps == []


def test_none_config_tries_once() -> None:
    time = FakeTime()
    action, calls = failing(1)
    with pytest.raises(Transient):
        handler(RetryConfig.none(), time).run(action, is_transient)
    assert calls["n"] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"max_attempts": 0}, "at least 1"),
    ({"base_delay": -1}, "cannot be negative"),
    ({"max_elapsed": -5}, "cannot be negative"),
])
def test_bad_config_is_a_usage_error(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        RetryConfig(**kwargs)  # type: ignore[arg-type]
