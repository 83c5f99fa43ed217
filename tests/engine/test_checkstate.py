"""The per-check hard state machine: confirmation runs and backdating (semantics.md §2)."""

from __future__ import annotations

from agent.engine.checkstate import CheckMachine
from agent.records import CheckStep, State
from checks.result import Outcome
from tests.engine.builders import at, check, result

OK, DEG, FAIL, UNK = Outcome.OK, Outcome.DEGRADED, Outcome.FAIL, Outcome.UNKNOWN


def replay(machine: CheckMachine, *outcomes: Outcome) -> list[object]:
    """One result a minute from T0; returns what each observe() returned."""
    return [
        machine.observe(result(machine.check.id, 60 * i, o, "refused" if o is FAIL else ""))
        for i, o in enumerate(outcomes)
    ]


def test_check_is_unknown_before_the_first_result() -> None:
    machine = CheckMachine(check("portal"))
    assert machine.hard is State.UNKNOWN
    assert machine.contribution_at(at(0)) is State.UNKNOWN


def test_first_ok_result_makes_the_check_up_at_once() -> None:
    machine = CheckMachine(check("portal"))
    assert replay(machine, OK) == [at(0)]
    assert (machine.hard, machine.since) == (State.UP, at(0))
    assert machine.history == [CheckStep(at(0), State.UP)]


def test_first_confirmed_failures_make_the_check_down_from_the_first_failure() -> None:
    machine = CheckMachine(check("portal", confirm_down=3))
    assert replay(machine, FAIL, FAIL, FAIL) == [None, None, at(0)]
    assert (machine.hard, machine.since) == (State.DOWN, at(0))
    assert machine.history == [CheckStep(at(0), State.DOWN, "refused")]


def test_down_is_backdated_to_the_first_fail_of_the_run() -> None:
    machine = CheckMachine(check("portal", confirm_down=3))
    assert replay(machine, OK, FAIL, FAIL, FAIL) == [at(0), None, None, at(60)]
    assert machine.history == [CheckStep(at(0), State.UP), CheckStep(at(60), State.DOWN, "refused")]


def test_an_ok_result_breaks_a_fail_run() -> None:
    machine = CheckMachine(check("portal", confirm_down=2))
    replay(machine, OK, FAIL, OK, FAIL)
    assert machine.hard is State.UP
    assert (machine.fail_count, machine.fail_started_at) == (1, at(180))


def test_unknown_results_neither_confirm_nor_break_a_run() -> None:
    machine = CheckMachine(check("portal", confirm_down=2))
    assert replay(machine, OK, FAIL, UNK, UNK, FAIL) == [at(0), None, None, None, at(60)]
    assert (machine.hard, machine.since) == (State.DOWN, at(60))
    assert machine.last_result_at == at(240)


def test_up_is_backdated_to_the_first_ok_of_the_confirming_run() -> None:
    machine = CheckMachine(check("portal", confirm_down=1, confirm_up=3))
    replay(machine, OK, FAIL, OK, UNK, DEG, OK)
    assert (machine.hard, machine.since) == (State.UP, at(120))
    assert machine.history[-2:] == [
        CheckStep(at(60), State.DOWN, "refused"),
        CheckStep(at(120), State.UP),
    ]


def test_confirm_up_counts_are_per_check() -> None:
    machine = CheckMachine(check("portal", confirm_down=1, confirm_up=1))
    assert replay(machine, OK, FAIL, OK) == [at(0), at(60), at(120)]
    assert (machine.hard, machine.since) == (State.UP, at(120))


def test_degraded_is_immediate_and_not_backdated() -> None:
    machine = CheckMachine(check("portal"))
    assert replay(machine, OK, DEG, DEG, OK) == [at(0), at(60), None, at(180)]
    assert machine.history == [
        CheckStep(at(0), State.UP),
        CheckStep(at(60), State.DEGRADED),
        CheckStep(at(180), State.UP),
    ]


def test_a_degraded_result_confirming_up_degrades_only_from_its_own_time() -> None:
    machine = CheckMachine(check("portal", confirm_down=1, confirm_up=2))
    replay(machine, FAIL, OK, DEG)
    assert machine.history == [
        CheckStep(at(0), State.DOWN, "refused"),
        CheckStep(at(60), State.UP),
        CheckStep(at(120), State.DEGRADED),
    ]


def test_status_round_trip_continues_the_run() -> None:
    machine = CheckMachine(check("portal", confirm_down=3))
    replay(machine, OK, FAIL, FAIL)
    resumed = CheckMachine(machine.check, machine.status())
    assert resumed.observe(result("portal/tcp", 180, FAIL, "refused")) == at(60)
    assert resumed.status().since == at(60)
