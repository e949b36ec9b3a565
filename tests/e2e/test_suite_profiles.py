"""Suites take `profile` and the profile's options in a check, as probe takes them."""

from __future__ import annotations

import json
import pathlib

import pytest

from sse_doctor.suite.loader import SuiteInvalid, load_suite
from tests.support import cli

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


def test_init_writes_an_llm_check_that_runs_against_an_llm_endpoint(lab, tmp_path) -> None:
    suite = tmp_path / "sse-doctor.toml"
    url = lab.url("/llm/anthropic/healthy/v1/messages")
    assert cli("init", url, "-o", str(suite)).returncode == 0
    text = suite.read_text()
    assert 'profile = "llm"' in text and 'method = "POST"' in text and '"max_tokens"' in text
    [check] = load_suite(str(suite)).checks
    assert check.plan.target.body_is_json and check.plan.target.method == "POST"
    proc = cli("run", str(suite), "--json", "-")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [entry] = json.loads(proc.stdout)["scenarios"]
    assert entry["profile"]["dialect"] == "anthropic" and entry["findings"] == []


def test_init_of_a_plain_stream_writes_no_profile(tmp_path) -> None:
    suite = tmp_path / "s.toml"
    assert cli("init", "http://127.0.0.1:9/events", "-o", str(suite)).returncode == 0
    assert "profile" not in suite.read_text()
