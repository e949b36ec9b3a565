"""Which test modules share a pytest-xdist worker when the suite runs with `-n 2 --dist
loadgroup`: an opt-in for a faster local run (about 5 minutes instead of 9), not CI's command.
In five whole runs so, four passed and one failed on a timing false alarm: the lab suite's
forty checks at once (test_suite_e2e.py) read buffered-delivery on a healthy route while the
other worker loaded the machine. A worker is handed a whole group at a time: by default
a group is one module, so a module's fixtures (its lab, its servers, its batch of CLI runs
started together) are set up once, on one worker; the modules below share a group, so they
run one after another on one worker and never beside each other:

- MACHINE: they fork load generators or many servers and read timings or the machine's CPU
  (load, Locust, AIPerf's comparison, the demo and its load rows, the lab suite's checks all at
  once, the framework matrix, the scale bench's smoke run). Two of them at once would load the
  two cores twice over.
- BROWSER: headless Chromium (the HTML report's page, the proxy's browser tests), and mitmproxy
  beside it in test_proxy.py: one browser at a time.
- MCP_NODE: the Node MCP servers and the conformance suite, from one npm cache directory.

The caches under ~/.cache/sse-doctor that a test may install into on first use (AIPerf,
mitmproxy, LiteLLM's proxy) each belong to one module, so no two workers install the same one.

The groups are given by this table, not by `xdist_group` marks: pytest-xdist 3.8 sends a
mark's group to its scheduler by rewriting the test's node id, which pytest 9.2 no longer lets
it do, so with pytest 9.2 `--dist loadgroup` silently ignores the marks
(https://github.com/pytest-dev/pytest-xdist/issues/1386). tests/conftest.py makes this
module's scheduler the one for `--dist loadgroup`.
"""

from __future__ import annotations

from typing import Any

MACHINE = "machine"
BROWSER = "browser"
MCP_NODE = "mcp-node"

GROUPS: dict[str, str] = {
    "test_e2e_cli.py": MACHINE,  # the demo: every scenario at once, then the load rows
    "test_frameworks.py": MACHINE,
    "test_llm_load_aiperf.py": MACHINE,
    "test_llm_load_e2e.py": MACHINE,
    "test_load_driver.py": MACHINE,
    "test_load_e2e.py": MACHINE,
    "test_load_loopback_name.py": MACHINE,
    "test_load_nginx.py": MACHINE,
    "test_load_threaded.py": MACHINE,
    "test_load_tls.py": MACHINE,
    "test_load_uvicorn_limit.py": MACHINE,
    "test_locust.py": MACHINE,
    "test_locust_dense.py": MACHINE,
    "test_scale_bench.py": MACHINE,
    "test_suite_e2e.py": MACHINE,  # the lab suite: every scenario's check at once
    "test_html_report.py": BROWSER,
    "test_proxy.py": BROWSER,
    "test_mcp_conformance.py": MCP_NODE,
    "test_mcp_node.py": MCP_NODE,
}


def group_of(module_path: str) -> str:
    """The xdist group of a test module (a path relative to the repository): its shared group,
    else the module itself."""
    return GROUPS.get(module_path.rsplit("/", 1)[-1], module_path)


def make_scheduler(config: Any, log: Any) -> Any:
    """pytest-xdist's scope scheduler (one scope is one worker's unit of work), with this
    table's groups as the scopes."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid.split("::", 1)[0])

    return ByGroup(config, log)
