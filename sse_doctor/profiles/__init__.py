"""Protocol profiles (LLM token streams, MCP, GraphQL, Socket.IO): the registry and how
``probe --profile auto|none|NAME`` and the profile options are resolved into a choice.

How to write a profile: see the docstring of ``sse_doctor/profiles/base.py``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from sse_doctor.errors import UsageError
from sse_doctor.profiles.base import AutoTap, Profile, ProfileContext, finish
from sse_doctor.profiles.core import Interpreter, ProfileResult, Step

__all__ = ["KNOWN", "OPTION_OWNERS", "AutoTap", "Interpreter", "Profile", "ProfileChoice",
           "ProfileContext", "ProfileResult", "Step", "finish", "get", "resolve"]

# Every name --profile accepts besides auto and none, and the module that holds it. A known
# profile whose module is not there yet answers "not available yet" (exit 2).
KNOWN: dict[str, str] = {
    "llm": "sse_doctor.profiles.llm",
    "mcp": "sse_doctor.profiles.mcp",
    "graphql": "sse_doctor.profiles.graphql",
    "socketio": "sse_doctor.profiles.socketio",
}
CHOICES = ("auto", "none", *KNOWN)

# Probe parameters (as the probe command names them) that belong to one profile. Given
# without that profile in use: exit 2. None is "not given".
OPTION_OWNERS: dict[str, str] = {
    "ttft_limit": "llm",
    "mcp_version": "mcp",
    "call": "mcp",
    "args": "mcp",
    "input_responses": "mcp",
    "query": "graphql",
    "variables": "graphql",
    "init_payload": "graphql",
    "namespace": "socketio",
    "transport": "socketio",
}


def _flag(param: str) -> str:
    return "--" + param.replace("_", "-")


def available(name: str) -> bool:
    try:
        get(name)
    except UsageError:
        return False
    return True


def get(name: str) -> Profile:
    """The profile called NAME (UsageError when unknown or not available yet)."""
    if name not in KNOWN:
        raise UsageError(f"unknown --profile {name!r} (have: {', '.join(CHOICES)})")
    try:
        module = importlib.import_module(KNOWN[name])
    except ModuleNotFoundError as exc:
        if exc.name != KNOWN[name]:
            raise
        raise UsageError(f"--profile {name} is not available yet in this version") from None
    return module.PROFILE


@dataclass
class ProfileChoice:
    """How a probe uses profiles: one that runs the conversation (asked for by name, or
    recognised from the URL), or auto candidates recognised from the stream's data."""

    requested: str  # auto | none | a profile name
    profile: Profile | None = None
    popts: Any = None
    detected: str = "flag"  # "flag" or "url"
    candidates: list[tuple[Profile, Any]] = field(default_factory=list)

    def tap(self, target: Any) -> AutoTap | None:
        """The detector to attach to an SSE stream, when auto has candidates."""
        if self.profile is not None or not self.candidates:
            return None
        return AutoTap(target.url, target, self.candidates)


def resolve(requested: str | None, protocol: str, url: str,
            params: dict[str, Any]) -> ProfileChoice:
    """--profile and the profile options of a probe, validated (UsageError: exit 2).

    auto uses passive evidence only: a profile recognised from the URL runs its
    conversation; profiles recognised from data are offered the stream's first items.
    A profile's options need that profile: by name, or under auto when it can be detected
    on this URL (the LLM profile on any http(s) URL, Socket.IO on a Socket.IO URL)."""
    requested = (requested or "auto").lower()
    if requested not in CHOICES:
        raise UsageError(f"unknown --profile {requested!r} (have: {', '.join(CHOICES)})")
    given = {p: owner for p, owner in OPTION_OWNERS.items() if params.get(p) is not None}
    if requested == "none":
        if given:
            p, owner = next(iter(given.items()))
            raise UsageError(f"{_flag(p)} needs --profile {owner}")
        return ProfileChoice("none")
    if requested != "auto":
        profile = get(requested)
        if protocol not in profile.schemes:
            schemes = " or ".join(_SCHEME_WORDS[s] for s in sorted(profile.schemes))
            raise UsageError(f"--profile {requested} needs {schemes} URL")
        for p, owner in given.items():
            if owner != requested:
                raise UsageError(f"{_flag(p)} needs --profile {owner}")
        return ProfileChoice(requested, profile, profile.options(params))

    chosen: ProfileChoice | None = None
    candidates: list[tuple[Profile, Any]] = []
    for name in KNOWN:
        if not available(name):
            continue
        profile = get(name)
        if not profile.auto or protocol not in profile.schemes:
            continue
        if chosen is None and profile.detect_url(url) is not None:
            chosen = ProfileChoice("auto", profile, None, "url")
        elif type(profile).detect is not Profile.detect:
            candidates.append((profile, None))
    usable = ({chosen.profile.name} if chosen is not None and chosen.profile is not None
              else {p.name for p, _ in candidates})
    for p, owner in given.items():
        if owner not in usable:
            raise UsageError(f"{_flag(p)} needs --profile {owner}")
    if chosen is not None:
        assert chosen.profile is not None
        chosen.popts = chosen.profile.options(params)
        return chosen
    return ProfileChoice("auto", candidates=[(p, p.options(params)) for p, _ in candidates])


_SCHEME_WORDS = {"sse": "an http:// or https://", "ws": "a ws:// or wss://"}
