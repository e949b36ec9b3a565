"""The counting proxy's pure core with its judges: the records (`proxy.records`) checked by
the same client checks as `har`, live (new findings once each) and per client and path for
the live table.

No I/O and only the standard library (plus sse_doctor's own stdlib-only modules): the
mitmproxy addon loads this inside mitmproxy's own environment, and `sse-doctor proxy` runs it
on the events the addon streams back.
"""

from __future__ import annotations

from typing import Any

from sse_doctor.checks.client_checks import reconnect_links, run_client_checks
from sse_doctor.har import StreamRequest
from sse_doctor.model import Finding
from sse_doctor.proxy.records import (
    CLIENT_KEY_KINDS,
    MAX_RECORDS,
    ClientRecords,
    StreamRecord,
    client_label,
    mask_secret_params,
    parse_client_key,
    stream_kind,
)

LIVE_WINDOW_S = 60.0


class ClientStreams(ClientRecords):
    """The records, judged: findings over the whole session so far, each announced once."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        super().__init__(max_records)
        self._announced: set[tuple[str, str, str]] = set()

    def findings(self) -> list[tuple[str, Finding]]:
        """(path, finding) for every client finding now, over the whole session so far."""
        return [(path, f) for path, obs in self.by_path().items()
                for f in run_client_checks(obs)]

    def new_findings(self, found: list[tuple[str, Finding]] | None = None
                     ) -> list[tuple[str, Finding]]:
        """Findings (`found`, else checked now) not announced before (once per path, code
        and client)."""
        fresh = []
        for path, f in self.findings() if found is None else found:
            key = (path, f.code, str(f.evidence.get("page", "")))
            if key not in self._announced:
                self._announced.add(key)
                fresh.append((path, f))
        return fresh

    def live_rows(self, now: float) -> list[dict[str, Any]]:
        """Per client and path: streams open now, opened in the last minute, the latest
        reconnect intervals (ms), for the live view."""
        groups: dict[tuple[str, str], list[StreamRecord]] = {}
        for rec in self.records.values():
            groups.setdefault((rec.client, rec.path), []).append(rec)
        rows = []
        for (client, path), recs in sorted(groups.items()):
            reqs = [StreamRequest(r.start * 1000, None if r.end is None else r.end * 1000,
                                  client, r.status) for r in recs]
            links = reconnect_links(reqs)
            gaps = [reqs[b].start_ms - (reqs[a].end_ms or 0.0) for a, b in links]
            rows.append({
                "client": client, "path": path, "kind": recs[0].kind,
                "open": sum(1 for r in recs if r.end is None),
                "last_minute": sum(1 for r in recs if now - r.start <= LIVE_WINDOW_S),
                "total": len(recs),
                "reconnect_gaps_ms": [round(g) for g in gaps[-5:]],
            })
        return rows


__all__ = ["CLIENT_KEY_KINDS", "ClientRecords", "ClientStreams", "StreamRecord", "client_label",
           "mask_secret_params", "parse_client_key", "stream_kind"]
