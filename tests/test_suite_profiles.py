"""Suites take `profile` and the profile's options in a check, as probe takes them."""

from __future__ import annotations

import pathlib

import pytest

from sse_doctor.suite.loader import SuiteInvalid, load_suite

BODY = '{"model": "m", "stream": true}'


def write(tmp_path: pathlib.Path, check: str) -> str:
    path = tmp_path / "suite.toml"
    path.write_text(f'name = "p"\n\n[[check]]\nname = "llm"\n'
                    f'url = "http://127.0.0.1:9/v1/chat/completions"\n{check}')
    return str(path)


def test_a_check_with_profile_llm_and_its_options_and_an_inline_json_body(tmp_path) -> None:
    suite = load_suite(write(tmp_path, f"method = \"POST\"\ndata = '{BODY}'\n"
                                       'profile = "llm"\nttft_limit = 2.5\n'))
    [check] = suite.checks
    target = check.plan.target
    assert target.method == "POST" and target.body == BODY.encode() and target.body_is_json


@pytest.mark.parametrize(("check", "problem"), [
    ('profile = "bogus"\n', "unknown --profile 'bogus'"),
    ('profile = "none"\nttft_limit = 2\n', "--ttft-limit needs --profile llm"),
    ('ttft_limit = 0\n', "--ttft-limit must be greater than 0"),
])
def test_bad_profile_keys_are_suite_problems(tmp_path, check: str, problem: str) -> None:
    with pytest.raises(SuiteInvalid) as exc:
        load_suite(write(tmp_path, check))
    assert any(problem in p for p in exc.value.problems), exc.value.problems
