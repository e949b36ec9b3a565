"""exporter.toml: modules are suite check entries (read by the suite loader) plus the exporter's
keys; a bad file is one clear line per problem and exit 2; secrets come from the environment
or files and are known to the module's redactor."""

from __future__ import annotations

import asyncio
import json
import pathlib

import pytest

from sse_doctor.exporter.config import ConfigInvalid, load_config
from sse_doctor.redact import MASK
from sse_doctor.suite.loader import load_check
from tests.support import cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "exporter" / "exporter.toml"


def write(tmp_path: pathlib.Path, text: str) -> str:
    path = tmp_path / "exporter.toml"
    path.write_text(text)
    return str(path)


def problems(tmp_path: pathlib.Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigInvalid) as info:
        load_config(write(tmp_path, text), env or {})
    return info.value.problems


def test_the_shipped_example_loads() -> None:
    config = load_config(str(EXAMPLE), {})
    assert {"sse", "ws", "llm", "mcp"} <= set(config.modules)
    assert config.modules["ws"].entry["ping_interval"] == 1


def test_a_module_means_what_the_same_suite_check_means(tmp_path: pathlib.Path) -> None:
    config = load_config(write(tmp_path, """
[modules.job]
targets = ["http://127.0.0.1:*/sse/*"]
window = 6
idle_limit = 2
expect_event = ["completed"]
allow = ["no-event-ids"]
max_first_event_ms = 500
"""), {})
    entry, env = config.modules["job"].check_entry("http://127.0.0.1:1/sse/x", observe_s=4,
                                                   env={})
    assert entry == {"name": "job", "url": "http://127.0.0.1:1/sse/x", "duration": 4,
                     "idle_limit": 2, "expect_event": ["completed"], "allow": ["no-event-ids"],
                     "max_first_event_ms": 500}
    spec = load_check(config.path, entry, where="[modules.job]", env=env)  # as a suite reads it
    assert spec.allow == frozenset({"no-event-ids"})
    assert spec.thresholds == {"max_first_event_ms": 500}
    assert spec.plan.command == "probe" and spec.plan.target.url == "http://127.0.0.1:1/sse/x"


@pytest.mark.parametrize("body, expected", [
    ('[modules.a]\ntargets = ["http://h/*"]\nidle_limt = 2\n',
     "[modules.a]: unknown key 'idle_limt' (did you mean 'idle_limit'?)"),
    ('[modules.a]\ntargets = ["http://h/*"]\nbearer = "abcdef123"\n',
     "'bearer' holds a credential written into the file"),
    ('[modules.a]\ntargets = ["http://h/*"]\nheaders = { Authorization = "Bearer abc123" }\n',
     "header 'Authorization' holds a credential written into the file"),
    ('[modules.a]\nidle_limit = 2\n', "'targets' expects a list of allowed target patterns"),
    ('[modules.a]\ntargets = ["h/*"]\n', "targets: 'h/*' is not a URL pattern"),
    ('[modules.a]\ntargets = ["http://h/*"]\nurl = "http://h/"\n',
     "'url': the target comes from each scrape"),
    ('[modules.a]\ntargets = ["http://h/*"]\nwindow = 0\n',
     "'window' expects a number of seconds greater than 0"),
    ('[modules.a]\ntargets = ["http://h/*"]\nidle_limit = -1\n',
     "[modules.a]: --idle-limit must be greater than 0"),
    ('[modules.a]\ntargets = ["http://h/*"]\nbearer_env = "NOPE_NOT_SET"\n',
     "environment variable NOPE_NOT_SET (bearer_env) is not set"),
    ('[modules.a]\ntargets = ["http://h/*"]\nheader_files = { X-Key = "missing.txt" }\n',
     "cannot read"),
    ('[modules.a\n', "not valid TOML"),
    ('name = "x"\n', "unknown top-level key 'name'"),
])
def test_problems_name_the_module_and_the_key(tmp_path: pathlib.Path, body: str,
                                              expected: str) -> None:
    found = problems(tmp_path, body)
    assert any(expected in p for p in found), found
    assert all(p.startswith(str(tmp_path)) and "\n" not in p for p in found)


def test_secrets_from_the_environment_and_files_are_redacted(tmp_path: pathlib.Path) -> None:
    (tmp_path / "key.txt").write_text("file-secret-$1\n")
    config = load_config(write(tmp_path, """
[modules.a]
targets = ["http://127.0.0.1:*/*"]
bearer_env = "TOKEN_FOR_TEST"
header_files = { X-Custom = "key.txt" }
headers = { X-Other = "${OTHER_SECRET}" }
"""), {"TOKEN_FOR_TEST": "env-secret-1", "OTHER_SECRET": "other-secret-2"})
    env = {"TOKEN_FOR_TEST": "env-secret-1", "OTHER_SECRET": "other-secret-2"}
    module = config.modules["a"]
    entry, full_env = module.check_entry("http://127.0.0.1:1/x?token=t0k3n", env=env)
    spec = load_check(config.path, entry, where=module.where, env=full_env)
    headers = dict(spec.plan.target.headers)
    assert headers["Authorization"] == "Bearer env-secret-1"
    assert headers["X-Custom"] == "file-secret-$1"  # a '$' in a file is not expanded
    # the check's report knows every one of them (port 1 refuses at once)
    report = asyncio.run(module.check(config.path, "http://127.0.0.1:1/x?token=t0k3n", 5.0,
                                      1.0, env))
    assert report.codes == {"target-unreachable"}
    text = report.redact("env-secret-1 file-secret-$1 other-secret-2") + report.url
    for secret in ("env-secret-1", "file-secret", "other-secret-2", "t0k3n"):
        assert secret not in text
    assert text.count(MASK) == 4
    assert not any(s in json.dumps(report.to_json()) + report.text()
                   for s in ("env-secret-1", "file-secret", "t0k3n"))


def test_a_bad_config_is_exit_2_without_a_traceback(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, '[modules.a]\ntargets = ["http://h/*"]\nwindw = 3\n')
    run = cli("exporter", "--config", path, "--listen", "127.0.0.1:0")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"sse-doctor: error: {path}: [modules.a]: unknown key 'windw' (did you mean 'window'?)"]
    missing = cli("exporter", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "cannot read the configuration" in missing.stderr
    assert "Traceback" not in missing.stderr
    listen = cli("exporter", "--config", str(EXAMPLE), "--listen", "nowhere")
    assert listen.returncode == 2 and "--listen expects HOST:PORT" in listen.stderr
