"""A load target named by a host name that resolves only to loopback addresses is this
machine (issue 21: `load http://$(hostname):P` was refused over 1000 streams)."""

from __future__ import annotations

import socket

import pytest

from sse_doctor import target as target_module
from sse_doctor.commandline import parse_args
from sse_doctor.errors import UsageError
from sse_doctor.plan.load import plan_load
from sse_doctor.target import is_loopback


@pytest.mark.parametrize(("addresses", "local"), [
    (["127.0.1.1"], True),  # Debian's /etc/hosts entry for the machine's own name
    (["127.0.0.1", "::1"], True),
    (["127.0.0.1", "10.0.0.5"], False),  # one address elsewhere: not only this machine
    ([], False),  # does not resolve (or not within the deadline)
])
def test_a_name_is_this_machine_only_when_every_address_is_loopback(
        monkeypatch: pytest.MonkeyPatch, addresses: list[str], local: bool) -> None:
    monkeypatch.setattr(target_module, "resolve", lambda host: addresses)
    assert is_loopback("http://buildbox:8080/sse") is local


def test_the_resolver_reads_the_machines_own_name() -> None:
    name = socket.gethostname()
    addresses = target_module.resolve(name)
    assert addresses  # the machine's own name resolves here
    assert is_loopback(f"http://{name}:1/") is all(a.startswith(("127.", "::1"))
                                                   for a in addresses)
    assert target_module.resolve("no-such-host.invalid") == []


def test_load_over_1000_streams_to_a_loopback_name_is_allowed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(target_module, "resolve", lambda host: ["127.0.1.1"])
    plan_load(parse_args("load", ["http://buildbox:8080/sse", "--streams", "5000"]))
    monkeypatch.setattr(target_module, "resolve", lambda host: ["203.0.113.7"])
    with pytest.raises(UsageError, match="refusing 5000 streams"):
        plan_load(parse_args("load", ["http://buildbox:8080/sse", "--streams", "5000"]))
