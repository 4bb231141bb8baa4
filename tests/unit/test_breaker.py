"""extraction/http/breaker.py: the circuit breaker's state machine, with an injected clock."""

import threading

import pytest

from extraction.http.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, breaker_for, reset_breakers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(threshold=3, cooldown=10, clock=clock)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert breaker.allow()
        breaker.failure()


def test_it_starts_closed_and_lets_calls_through(breaker: CircuitBreaker) -> None:
    assert breaker.state == CLOSED
    assert all(breaker.allow() for _ in range(10))


def test_it_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    assert breaker.state == CLOSED
    fail(breaker, 1)
    assert breaker.state == OPEN
    assert not breaker.allow()


def test_a_success_resets_the_count_of_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.success()
    fail(breaker, 2)
    assert breaker.state == CLOSED and breaker.failures == 2


def test_while_open_it_fails_fast_until_the_cooldown_is_over(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 9.5
    assert not breaker.allow()
    assert breaker.retry_in() == pytest.approx(0.5)
    clock.now += 0.5
    assert breaker.state == HALF_OPEN
    assert breaker.retry_in() == 0


def test_half_open_lets_exactly_one_probe_through(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 10
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # the others still fail fast while it runs
    assert not breaker.allow()
    assert breaker.state == HALF_OPEN


def test_a_successful_probe_closes_the_circuit(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 10
    assert breaker.allow()
    breaker.success()
    assert breaker.state == CLOSED and breaker.failures == 0
    assert breaker.allow() and breaker.allow()


def test_a_failed_probe_opens_the_circuit_for_another_cooldown(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 10
    assert breaker.allow()
    breaker.failure()  # one failure is enough in half-open state
    assert breaker.state == OPEN
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_an_abandoned_probe_lets_another_one_go(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 10
    assert breaker.allow()
    breaker.abandon()
    assert breaker.allow()


def test_only_one_of_many_concurrent_callers_probes(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 10
    allowed: list[bool] = []
    start = threading.Barrier(16)

    def caller() -> None:
        start.wait()
        allowed.append(breaker.allow())

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 1


def test_concurrent_failures_are_all_counted(clock: Clock) -> None:
    breaker = CircuitBreaker(threshold=400, cooldown=10, clock=clock)

    def caller() -> None:
        for _ in range(50):
            breaker.failure()

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breaker.failures == 400 and breaker.state == OPEN


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(cooldown=-1)


def test_there_is_one_breaker_per_base_url() -> None:
    reset_breakers()
    first = breaker_for("http://a.test", threshold=2, cooldown=1)
    assert breaker_for("http://a.test") is first and first.threshold == 2
    assert breaker_for("http://b.test") is not first
    reset_breakers()
    assert breaker_for("http://a.test") is not first
