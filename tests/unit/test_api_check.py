"""The API's check door without a network: a check entry is validated whole, as the suite
loader validates a suite file (every problem, one line each, naming its source and entry), and
the keys an entry takes are the command's options and the suite's own."""

from __future__ import annotations

import pytest

import sse_doctor
from sse_doctor.options import COMMANDS


def _problems(entry: dict, **kw) -> list[str]:  # noqa: ANN003
    with pytest.raises(sse_doctor.OptionError) as info:
        sse_doctor.validate_check(entry, **kw)
    assert str(info.value) == info.value.problems[0]
    return info.value.problems


def test_every_problem_of_an_entry_is_one_line() -> None:
    entry = {"name": "smoke", "url": "http://h.test/events", "idle_limt": 2,
             "allow": ["nope"], "duration": "soon", "max_gap_s": -1}
    assert _problems(entry, source="ci/smoke.toml") == [
        "ci/smoke.toml: check 'smoke': unknown key 'idle_limt' (did you mean 'idle_limit'?)",
        "ci/smoke.toml: check 'smoke': allow: unknown finding code 'nope'",
        "ci/smoke.toml: check 'smoke': max_gap_s: expects a number of seconds greater than 0, "
        "got -1",
        "ci/smoke.toml: check 'smoke': duration: expects a number (got 'soon')"]
    # without a source the lines start with the entry; `where` renames it
    assert _problems({"url": "http://h.test/", "json": "out.json"}, where="[modules.a]") == [
        "[modules.a]: 'json' is an output option: pass it to 'sse-doctor run', not per check"]


def test_a_good_entry_validates_and_variables_expand_from_the_given_environment() -> None:
    entry = {"url": "http://h.test/${PATH_PART}", "command": "disconnect", "after_events": 2,
             "headers": {"Authorization": "Bearer ${TOKEN}"}, "min_events": 1,
             "ignore": ["no-event-ids"]}
    assert sse_doctor.validate_check(entry, env={"PATH_PART": "events", "TOKEN": "t"}) is None
    assert _problems(entry, env={"PATH_PART": "events"}) == [
        "check 'disconnect': headers.Authorization: undefined environment variable ${TOKEN}"]
    with pytest.raises(sse_doctor.OptionError, match="a check entry is a mapping"):
        sse_doctor.validate_check(["url", "http://h.test/"])  # type: ignore[arg-type]


def test_the_keys_an_entry_takes() -> None:
    keys = sse_doctor.check_keys()
    assert {"url", "name", "allow", "ignore", "headers", "min_events", "idle_limit",
            "expect_event"} <= keys
    outputs = sse_doctor.output_options("probe")
    assert {"json", "html", "junit", "fail_on"} <= outputs
    assert outputs & keys == {"ignore"}  # --ignore, and a check's own `ignore` list
    declared = {o.flag[2:].replace("-", "_") for o in COMMANDS["storm"].options if not o.output}
    assert declared <= sse_doctor.check_keys("storm")
    with pytest.raises(sse_doctor.OptionError, match="unknown command 'prob'"):
        sse_doctor.check_keys("prob")


def test_a_bad_fail_on_or_deadline_is_refused_before_anything_runs() -> None:
    with pytest.raises(sse_doctor.OptionError, match="fail_on must be error, warning or never"):
        sse_doctor.check({"url": "http://h.test/"}, fail_on="warn")
    with pytest.raises(sse_doctor.OptionError, match="deadline expects a number of seconds"):
        sse_doctor.check({"url": "http://h.test/"}, deadline=-2)
