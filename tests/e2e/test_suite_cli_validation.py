"""Suite validation and `init` through the real command line: every problem listed, nothing
run, one line and exit 2 (tests/unit/test_suite_validation.py has the pure parts)."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from sse_doctor.suite.loader import SuiteInvalid, load_suite

ROOT = pathlib.Path(__file__).resolve().parents[2]


INVALID = ROOT / "fixtures" / "suites" / "invalid"


def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "sse_doctor", *args], capture_output=True,
                          text=True, timeout=60, env=full, cwd=cwd)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port that would see any connection a suite made: it listens but never accepts, so a
    connection attempt would wait in its backlog for the check below."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def assert_nothing_connected(sock: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        conn, _ = sock.accept()
        conn.close()


CASES = {
    "not-toml": ["{path}:8:7: not valid TOML: Invalid value"],
    "unknown-keys": [
        "{path}: unknown top-level key 'nmae' (did you mean 'name'?)",
        "{path}: [defaults]: unknown key 'duraton' (did you mean 'duration'?)",
        "{path}: check[2] \"typos\": unknown key 'idle_limt' (did you mean 'idle_limit'?)",
        "{path}: check[2] \"typos\": 'json' is an output option: pass it to 'sse-doctor run', "
        "not per check",
    ],
    "wrong-types": [
        "{path}: check[2] \"types\": duration: expects a number (got 'two')",
        "{path}: check[2] \"types\": max_events: expects a whole number (got '1.5')",
        '{path}: check[2] "types": expect_event: expects a list of values, not a table',
        "{path}: check[2] \"types\": insecure: expects true or false, got 'yes'",
        '{path}: check[2] "types": headers: expects a table of header names and values, like '
        '{{ Name = "value" }}, not a list',
        '{path}: check[3] "values": --duration must be greater than 0',
    ],
    "missing-url": [
        "{path}: check[2] \"no url\": missing 'url'",
        "{path}: check[3]: missing 'name'",
        "{path}: check[4] \"bad scheme\": unsupported URL 'ftp://example.com/events': use "
        "http:// or https:// (SSE) or ws:// or wss:// (WebSocket)",
        "{path}: check[5] \"url not a string\": 'url' expects a non-empty string",
    ],
    "undefined-env": [
        '{path}: check[2] "token": headers.Authorization: undefined environment variable '
        "${{SSE_DOCTOR_TEST_UNDEFINED_TOKEN}}",
        '{path}: check[3] "empty": url: environment variable ${{SSE_DOCTOR_TEST_EMPTY}} is '
        "empty (a CI secret that is not set?)",
        "{path}: check[4] \"malformed\": url: invalid variable reference '${{not a name}}'",
        "{path}: check[4] \"malformed\": bearer: unterminated '${{' in '${{UNTERMINATED' "
        "(write '$$' for a literal '$')",
    ],
    "duplicate-names": ['{path}: check[3] "stream": duplicate name: check[1] has it too'],
    "unknown-command": [
        "{path}: check[2] \"typo\": unknown command 'prob' (did you mean 'probe'?) (have: "
    ],
    "unknown-allow": [
        "{path}: check[2] \"typo\": allow: unknown finding code 'missing-no-cahe' "
        "(did you mean 'missing-no-cache'?)",
        "{path}: check[3] \"not codes\": 'allow' expects a list of finding codes",
    ],
    "bad-thresholds": [
        "{path}: [defaults]: min_events: expects a whole number of events, at least 1, got 0",
        '{path}: check[2] "bad": max_gap_s: expects a number of seconds greater than 0, got -1',
        '{path}: check[2] "bad": min_events: expects a whole number of events, at least 1, '
        "got 1.5",
        '{path}: check[2] "bad": max_first_event_ms: expects a number of milliseconds greater '
        "than 0, got 'fast'",
    ],
    "no-checks": [
        "{path}: name: expects a non-empty string",
        "{path}: no checks: add at least one [[check]] table",
    ],
    "single-check-table": ["{path}: check: write [[check]] (a list of checks), not [check]"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_suite_lists_every_problem_and_runs_nothing(name: str, listener) -> None:  # noqa: ANN001
    path = str(INVALID / f"{name}.toml")
    host, port = listener.getsockname()
    env = {"LISTENER": f"{host}:{port}", "SSE_DOCTOR_TEST_EMPTY": ""}
    proc = run_cli("run", path, "--junit", os.devnull, env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    *problems, last = proc.stderr.splitlines()
    expected = [e.format(path=path) for e in CASES[name]]
    n = len(expected)
    assert last == (f"sse-doctor: error: {path}: {n} problem{'s' if n != 1 else ''}; "
                    "nothing was run")
    if name == "unknown-command":  # the list of commands grows with the tool
        assert len(problems) == 1 and problems[0].startswith(expected[0])
    else:
        assert sorted(problems) == sorted(expected)
    assert_nothing_connected(listener)


def test_a_missing_suite_file_is_one_line_and_exit_2(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "nope.toml")
    proc = run_cli("run", path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"{path}: cannot read the suite: No such file or directory",
        f"sse-doctor: error: {path}: 1 problem; nothing was run"]


def test_jobs_must_be_positive(tmp_path: pathlib.Path) -> None:
    proc = run_cli("run", str(INVALID / "not-toml.toml"), "--jobs", "0")
    assert proc.returncode == 2
    assert proc.stderr == "sse-doctor: error: --jobs must be at least 1\n"


# --- init -------------------------------------------------------------------------------------
def test_init_writes_a_suite_that_validates_and_runs(lab, tmp_path: pathlib.Path) -> None:  # noqa: ANN001
    url = lab.url("/sse/finite")
    proc = run_cli("init", url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "sse-doctor.toml"
    text = written.read_text()
    assert text.startswith("# sse-doctor suite") and f'url = "{url}"' in text
    suite = load_suite(str(written), env={})
    assert [c.url for c in suite.checks] == [url]
    run = run_cli("run", str(written), "--json", "-")
    assert run.returncode == 0, run.stderr  # a finite stream: a note, nothing failing
    assert run.stdout.startswith("{")


def test_init_refuses_to_overwrite_without_force(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "mine.toml"
    out.write_text("keep me\n")
    proc = run_cli("init", "http://example.test/sse", "--output", str(out))
    assert proc.returncode == 2
    assert proc.stderr == (f"sse-doctor: error: {out} already exists; use --force to "
                           "overwrite it\n")
    assert out.read_text() == "keep me\n"
    proc = run_cli("init", "ws://example.test/ws", "--output", str(out), "--force")
    assert proc.returncode == 0
    text = out.read_text()
    assert "# send = [" in text  # WebSocket hints for a ws:// URL
    load_suite(str(out), env={})


def test_init_keeps_url_secrets_out_of_the_file(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "s.toml"
    proc = run_cli("init", "https://api.test/sse?access_token=abc123xyz&page=2", "-o", str(out))
    assert proc.returncode == 0
    text = out.read_text()
    assert "abc123xyz" not in text and "abc123xyz" not in proc.stdout
    assert 'url = "https://api.test/sse?access_token=${ACCESS_TOKEN}&page=2"' in text
    with pytest.raises(SuiteInvalid) as exc:
        load_suite(str(out), env={})
    assert "undefined environment variable ${ACCESS_TOKEN}" in exc.value.problems[0]
    loaded = load_suite(str(out), env={"ACCESS_TOKEN": "abc123xyz"})
    assert urlsplit(loaded.checks[0].url).query == "access_token=abc123xyz&page=2"


def test_init_rejects_a_bad_url(tmp_path: pathlib.Path) -> None:
    proc = run_cli("init", "ftp://example.test/x", "-o", str(tmp_path / "s.toml"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("sse-doctor: error: unsupported URL")
    assert not (tmp_path / "s.toml").exists()
