"""The circuit breaker's rules, as pure functions of a record, a policy and the time."""

from dataclasses import replace

from {{ cookiecutter.package_name }}.resilience.breaker.state import (
    Admission,
    BreakerPolicy,
    CircuitRecord,
    CircuitState,
    abandoned,
    admit,
    failed,
    succeeded,
)

POLICY = BreakerPolicy(
    failure_threshold=3,
    failure_window_seconds=10.0,
    cooldown_seconds=5.0,
    half_open_calls=2,
    trial_timeout_seconds=4.0,
)
CALL = Admission(allowed=True)


def open_at(moment: float) -> CircuitRecord:
    return CircuitRecord(CircuitState.OPEN, opened_at=moment)


def test_failures_within_the_window_open_the_circuit() -> None:
    record = CircuitRecord()
    for moment in (1.0, 2.0):
        record = failed(record, CALL, POLICY, moment)
        assert record.state is CircuitState.CLOSED

    assert failed(record, CALL, POLICY, 3.0) == open_at(3.0)


def test_failures_older_than_the_window_are_forgotten() -> None:
    record = failed(failed(CircuitRecord(), CALL, POLICY, 0.0), CALL, POLICY, 1.0)

    record = failed(record, CALL, POLICY, 10.5)

    assert record.state is CircuitState.CLOSED
    assert record.failures == (1.0, 10.5)


def test_an_open_circuit_refuses_until_the_cooldown_has_passed() -> None:
    record, admission = admit(open_at(10.0), POLICY, 12.0)

    assert record == open_at(10.0)
    assert not admission.allowed
    assert admission.retry_after_seconds == 3.0


def test_after_the_cooldown_a_limited_number_of_trials_go_through() -> None:
    record, first = admit(open_at(10.0), POLICY, 15.0)
    record, second = admit(record, POLICY, 15.5)
    record, third = admit(record, POLICY, 16.0)

    assert record.state is CircuitState.HALF_OPEN
    assert first.trial
    assert second.trial
    assert not third.allowed
    assert third.retry_after_seconds == 15.0 + POLICY.trial_timeout_seconds - 16.0


def test_a_trial_that_never_reports_back_stops_counting_after_its_timeout() -> None:
    record, _ = admit(open_at(0.0), POLICY, 5.0)
    record, _ = admit(record, POLICY, 5.0)

    record, late = admit(record, POLICY, 9.5)

    assert late.trial
    assert record.trials == (9.5,)


def test_a_successful_trial_closes_and_a_failed_one_reopens() -> None:
    half_open, trial = admit(open_at(0.0), POLICY, 5.0)

    assert succeeded(half_open, trial) == CircuitRecord()
    assert failed(half_open, trial, POLICY, 6.0) == open_at(6.0)


def test_calls_let_through_before_the_circuit_changed_do_not_move_it() -> None:
    half_open, _ = admit(open_at(0.0), POLICY, 5.0)

    assert failed(half_open, CALL, POLICY, 6.0) == half_open
    assert succeeded(half_open, CALL) == half_open
    assert failed(open_at(0.0), CALL, POLICY, 1.0) == open_at(0.0)


def test_an_abandoned_trial_gives_its_place_back() -> None:
    record, trial = admit(open_at(0.0), POLICY, 5.0)

    assert abandoned(record, trial) == replace(record, trials=())


def test_records_survive_the_round_trip_through_json() -> None:
    record = CircuitRecord(CircuitState.HALF_OPEN, (1.5,), 2.25, (3.125,))

    assert CircuitRecord.from_json(record.to_json()) == record
