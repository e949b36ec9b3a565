"""`proxy`'s one conclusion: what passed through, one Result per URL path judged by the client
checks (as `har` judges a capture), or the one finding of an upstream that never answered."""

from __future__ import annotations

from sse_doctor.checks.client_checks import CLIENT_CHECKS, run_client_checks
from sse_doctor.model import Result, finding
from sse_doctor.proxy.streams import ClientStreams


def proxy_results(streams: ClientStreams, where: str) -> list[Result]:
    """One scenario per URL path, in the order of its first stream request; `where` names
    the proxy in each observation ("127.0.0.1:8081 → http://127.0.0.1:8000")."""
    return [Result(name=path, protocol=obs.kind, url=obs.url, findings=run_client_checks(obs),
                   checks_run=list(CLIENT_CHECKS), observation=obs)
            for path, obs in streams.by_path(where).items()]


def unreachable_result(upstream: str, reason: str) -> Result:
    """The upstream refused or did not answer at the start: nothing was proxied. `reason` is
    the whole line the command line prints ("upstream http://... unreachable: ...")."""
    return Result(name="proxy", protocol="sse", url=upstream,
                  findings=[finding("target-unreachable", reason)],
                  checks_run=["target-unreachable"])


def unreachable_line(results: list[Result]) -> str | None:
    """The line of an upstream that never answered, when that is how the run ended."""
    for r in results:
        for f in r.findings:
            if r.name == "proxy" and f.code == "target-unreachable" and r.observation is None:
                return f.detail
    return None
