"""`sse-doctor init URL`: a commented starter suite for one endpoint."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit, urlunsplit

from sse_doctor.redact import is_secret_param


def _toml_string(s: str) -> str:
    # A JSON string is a valid TOML basic string (same quotes, backslash escapes, \uXXXX).
    return json.dumps(s, ensure_ascii=False)


def template_url(url: str) -> tuple[str, list[str]]:
    """The URL with secret-looking query values replaced by ${VARS}, so the token the user
    typed does not end up in a file they commit; returns (url, variable names)."""
    parts = urlsplit(url)
    names: list[str] = []
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        k, eq, v = pair.partition("=")
        if eq and v and is_secret_param(k):
            name = re.sub(r"[^A-Za-z0-9]+", "_", k).strip("_").upper() or "TOKEN"
            names.append(name)
            pairs.append(f"{k}=${{{name}}}")
        else:
            pairs.append(pair.replace("$", "$$"))  # a literal '$' in a suite is '$$'
    netloc = parts.netloc
    if parts.password:
        names.append("URL_PASSWORD")
        netloc = netloc.replace(f":{parts.password}@", ":${URL_PASSWORD}@")
    path = parts.path.replace("$", "$$")
    return urlunsplit((parts.scheme, netloc, path, "&".join(pairs), parts.fragment)), names


def starter_suite(url: str, protocol: str, commands: list[str],
                  filename: str = "sse-doctor.toml") -> str:
    turl, secrets = template_url(url)
    secret_note = ""
    if secrets:
        secret_note = ("# The URL's secret values were replaced by environment variables: set "
                       + ", ".join(f"${s}" for s in secrets) + " before running.\n")
    if protocol == "ws":
        specific = """\
# send = ['{"type": "subscribe"}']   # messages sent in order once the socket is open
# expect_message = ["subscribed"]     # substrings some message must contain
# ping_interval = 5                   # ping every 5 s and time the pong"""
    else:
        specific = """\
# expect_event = ["completed"]   # event types that must arrive within the window
# method = "POST"                # many streaming APIs are POST
# data = "@request.json"         # the request body (paths are relative to this file)"""
    profile = _profile_block(url)
    if profile:
        specific = profile
    others = ", ".join(c for c in commands if c != "probe") or "none yet"
    return f"""\
# sse-doctor suite: what this stream must do, checked in CI.
#
#   sse-doctor run {filename} --junit sse-doctor-junit.xml
#
# Each [[check]] runs one sse-doctor command against one URL: probe unless 'command' names
# another ({others}); a har check names its browser capture with file = "page.har"
# instead. Any option of that command can be set, with '-' written as '_':
# --idle-limit 15 is idle_limit = 15; repeatable options take a list.
# ${{VAR}} is replaced by the environment variable VAR (keep tokens out of this file; an unset
# or empty VAR is an error, ${{VAR:-default}} gives a default); $$ is a literal $.
{secret_note}
name = "smoke checks"

[defaults]
# Applied to every check that does not set the key itself.
duration = 10        # seconds to watch each stream
idle_limit = 30      # the longest silence you accept, in seconds
timeout = 10         # seconds to connect and get the response head
# headers = {{ Authorization = "Bearer ${{API_TOKEN}}" }}

[[check]]
name = "stream stays healthy"
url = {_toml_string(turl)}
# command = "probe"
{specific}
# allow = ["missing-no-cache"]   # finding codes this check accepts (they stay in the report)
# max_first_event_ms = 2000      # thresholds: the first event within 2 s,
# max_gap_s = 15                 #   never more than 15 s without an event,
# min_events = 1                 #   at least 1 event in the window
"""


# A streaming request body for each LLM API path: a valid suite at once (set the model).
LLM_BODIES = {
    "messages": '{"model": "MODEL", "max_tokens": 256, "stream": true, '
                '"messages": [{"role": "user", "content": "Say hello."}]}',
    "responses": '{"model": "MODEL", "stream": true, "input": "Say hello."}',
    "completions": '{"model": "MODEL", "stream": true, "stream_options": '
                   '{"include_usage": true}, "messages": [{"role": "user", '
                   '"content": "Say hello."}]}',
}


def _llm_block(url: str) -> str:
    last = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    body = LLM_BODIES.get(last, LLM_BODIES["completions"])
    auth = ('x-api-key = "${API_KEY}", anthropic-version = "2023-06-01"' if last == "messages"
            else 'Authorization = "Bearer ${API_KEY}"')
    return f"""\
method = "POST"                # LLM streaming APIs are POST
data = '{body}'
profile = "llm"                # read it as an LLM token stream: TTFT, token gaps, [DONE]...
# ttft_limit = 2               # the first token within 2 s
# headers = {{ {auth} }}"""


def _profile_block(url: str) -> str | None:
    """The check's lines for the protocol profile the URL suggests (None: a plain stream)."""
    from sse_doctor.profiles import available
    from sse_doctor.profiles.hints import profile_for_url

    name = profile_for_url(url)
    if name is None:
        return None
    if name == "llm":
        return _llm_block(url)
    if available(name):
        return f'profile = "{name}"              # drive the {name} conversation and check it'
    return None
