"""End to end: the real CLI against the lab's LLM routes (probe --profile, the JSON profile
object, the terminal's profile facts, JUnit testcases per profile check), bad profile input
and profile-hint."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from sse_doctor.lab.scenarios import CHAT_BODY, DEMO_ARGS, get_scenario
from tests.support import cli


def probe(lab, name: str, *extra: str):  # noqa: ANN201
    s = get_scenario(name)
    return cli("probe", lab.url(s.path), *DEMO_ARGS, *s.probe_args, *extra)


def test_a_chat_stream_shows_its_profile_and_metrics_under_the_verdict(lab) -> None:
    proc = probe(lab, "llm-openai-healthy")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.index("HEALTHY") < out.index("llm · openai-chat (recognised from the stream)") \
        < out.index("Connection")
    assert "lab-gpt · finish stop · terminal [DONE]" in out
    assert "13 tokens" in out and "tokens/s" in out and "token gaps" in out
    assert "openai-sdk: stops" in out


def test_json_profile_object_and_a_junit_testcase_per_profile_check(lab, tmp_path) -> None:
    junit = tmp_path / "j.xml"
    proc = probe(lab, "llm-anthropic-healthy", "--json", "-", "--junit", str(junit))
    report = json.loads(proc.stdout)
    profile = report["profile"]
    assert profile["name"] == "llm" and profile["dialect"] == "anthropic"
    assert set(profile["metrics"]) >= {"ttft_ms", "itl_ms", "output_tokens", "tokens_exact",
                                       "tokens_per_s", "finish_reason", "model"}
    assert set(profile["metrics"]["itl_ms"]) == {"p50", "p95", "max"}
    assert [s["step"] for s in profile["steps"]][0] == "first-token"
    assert all(set(s) == {"t_ms", "step", "status", "detail"} for s in profile["steps"])
    assert report["findings"] == []  # no no-event-ids, no stream-ended: irrelevant here
    cases = {c.get("name") for c in ET.parse(junit).getroot().iter("testcase")}
    assert {"llm-missing-terminal", "llm-sequence-violation", "http-error"} <= cases
    assert "no-event-ids" not in cases


def test_the_html_report_shows_what_the_profile_read(lab, tmp_path) -> None:
    page = tmp_path / "r.html"
    proc = probe(lab, "llm-openai-healthy", "--html", str(page), "-q")
    assert proc.returncode == 0, proc.stderr
    text = page.read_text()
    assert "Protocol profile" in text and "openai-chat" in text and "lab-gpt" in text
    assert text.index("Protocol profile") < text.index("first-token")


def test_an_error_in_the_200_stream_fails_the_probe(lab, tmp_path) -> None:
    junit = tmp_path / "j.xml"
    proc = probe(lab, "llm-openai-error", "--json", "-", "--junit", str(junit))
    assert proc.returncode == 1
    [f] = json.loads(proc.stdout)["findings"]
    assert f["code"] == "llm-error-in-stream" and "openai.APIError" in f["detail"]
    failures = [c.find("failure") for c in ET.parse(junit).getroot().iter("testcase")]
    assert [x.get("type") for x in failures if x is not None] == ["llm-error-in-stream"]


def test_a_plain_stream_gets_no_profile(lab) -> None:
    report = json.loads(cli("probe", lab.url("/sse/finite"), *DEMO_ARGS, "--json", "-").stdout)
    assert "profile" not in report and {f["code"] for f in report["findings"]} == \
        {"stream-ended"}


def test_profile_llm_forced_on_a_stream_that_is_not_llm(lab) -> None:
    proc = cli("probe", lab.url("/sse/finite"), *DEMO_ARGS, "--profile", "llm", "--json", "-")
    report = json.loads(proc.stdout)
    assert report["profile"]["dialect"] is None and report["profile"]["detected"] == "flag"
    assert "llm-missing-terminal" in {f["code"] for f in report["findings"]}


def test_api_keys_are_redacted_everywhere(lab, tmp_path) -> None:
    junit = tmp_path / "j.xml"
    proc = probe(lab, "llm-anthropic-error", "-H", "x-api-key: sk-ant-lab-secret-42",
                 "--json", "-", "--junit", str(junit), "-v")
    text = proc.stdout + proc.stderr + junit.read_text()
    assert "sk-ant-lab-secret-42" not in text and proc.returncode == 1


@pytest.mark.parametrize(("args", "message"), [
    (("--profile", "bogus"), "unknown --profile 'bogus' (have: auto, none, llm, mcp, graphql, "
                             "socketio)"),
    (("--profile", "none", "--ttft-limit", "1"), "--ttft-limit needs --profile llm"),
    (("--ttft-limit", "-1"), "--ttft-limit must be greater than 0"),
])
def test_bad_profile_input_is_one_line_and_exit_2(lab, args, message) -> None:
    proc = cli("probe", lab.url("/sse/healthy"), *args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"sse-doctor: error: {message}\n"


def test_a_profile_that_does_not_fit_the_scheme_is_exit_2() -> None:
    proc = cli("probe", "ws://127.0.0.1:9/chat", "--profile", "llm")
    assert proc.returncode == 2
    assert proc.stderr == "sse-doctor: error: --profile llm needs an http:// or https:// URL\n"
    proc = cli("probe", "ws://127.0.0.1:9/chat", "--ttft-limit", "2")
    assert (proc.returncode, proc.stderr) == (2, "sse-doctor: error: --ttft-limit needs "
                                                 "--profile llm\n")


def test_the_plain_probe_of_an_mcp_server_says_run_profile_mcp(lab) -> None:
    proc = cli("probe", lab.url("/sse/mcp-session-required"), *DEMO_ARGS, "-X", "POST",
               "-d", CHAT_BODY, "--json", "-")
    report = json.loads(proc.stdout)
    hint = {f["code"]: f for f in report["findings"]}["profile-hint"]
    assert hint["severity"] == "info" and hint["evidence"] == {"profile": "mcp"}
    assert "--profile mcp" in hint["detail"] and "asking for an MCP session" in hint["detail"]


def test_profile_llm_on_an_http_error_reports_the_error_and_no_answer(lab) -> None:
    proc = cli("probe", lab.url("/sse/http-error"), *DEMO_ARGS, "--profile", "llm", "--json",
               "-")
    report = json.loads(proc.stdout)
    assert {f["code"] for f in report["findings"]} == {"http-error"}
    assert report["profile"]["steps"] == [] and report["profile"]["metrics"]["ttft_ms"] is None


def test_a_websocket_with_the_signs_of_socketio_gets_a_hint(lab) -> None:
    # Under --profile auto an EIO= URL is read by the socketio profile itself; the plain
    # probe (--profile none) points to it.
    url = lab.url("/ws/healthy-echo").replace("http://", "ws://") + "?EIO=4&transport=websocket"
    report = json.loads(cli("probe", url, "--duration", "1", "--json", "-").stdout)
    assert report["profile"]["name"] == "socketio" and report["profile"]["detected"] == "url"
    proc = cli("probe", url, "--duration", "1", "--profile", "none", "--json", "-")
    report = json.loads(proc.stdout)
    [hint] = [f for f in report["findings"] if f["code"] == "profile-hint"]
    assert hint["evidence"] == {"profile": "socketio"} and "--profile socketio" in hint["detail"]
