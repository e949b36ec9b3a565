"""What `sse-doctor lab` prints: where the lab listens, then its routes and browser pages.

The base URL is printed once, above the tables, and each row shows the route's path whole:
the path (with the base) is what a user copies, and a full URL per row is wider than an
80-column terminal, where rich would cut every one of them to `http://127.0.0.1:18080…`.
"""

from __future__ import annotations

import shlex

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .browser_routes import PAGES
from .load_scenarios import LLM_LOAD_SCENARIOS, LOAD_DEMO_ARGS, LOAD_SCENARIOS
from .scenarios import SCENARIOS, get_scenario


def _path_column(table: Table, paths: list[str]) -> None:
    # no_wrap + a minimum width of the longest path: rich shrinks the other columns instead.
    table.add_column("path", no_wrap=True, min_width=max(len(p) for p in paths))


def lab_listing(base_url: str) -> Group:
    """The listing for a lab served at ``base_url`` (``http://127.0.0.1:PORT``)."""
    ws_base = base_url.replace("http://", "ws://", 1)
    example = get_scenario("stalled")
    head = Text()
    head.append(f"sse-doctor lab on {base_url}", style="bold")
    head.append("  (Ctrl-C stops it)\n")
    head.append(f"Each path below goes after it ({ws_base} for /ws/ paths), e.g.\n")
    head.append(f"  sse-doctor probe {base_url}{example.path}")

    routes = Table(box=box.SIMPLE_HEAD, title_justify="left",
                   title="Routes: the failure each models, with the demo's probe options, and "
                         "the diagnosis it should get")
    _path_column(routes, [s.path for s in SCENARIOS])
    routes.add_column("models", ratio=1)
    routes.add_column("expected diagnosis", no_wrap=True)
    for s in SCENARIOS:
        models = Text(s.models)
        if s.probe_args:
            models.append(f"\n{shlex.join(s.probe_args)}", style="dim")
        # One code a line: the column is as wide as the longest code, the rest is for models.
        routes.add_row(s.path, models, "\n".join(sorted(s.expect)) or "healthy")

    pages = Table(box=box.SIMPLE_HEAD, title_justify="left",
                  title="Pages for a browser: open one, save a HAR (DevTools > Network), then "
                        "run sse-doctor har FILE")
    _path_column(pages, [p.path for p in PAGES])
    pages.add_column("models", ratio=1)
    pages.add_column("sse-doctor har finds", no_wrap=True)
    for page in PAGES:
        pages.add_row(page.path, page.models, "\n".join(page.expect) or "healthy")

    loads = Table(box=box.SIMPLE_HEAD, title_justify="left",
                  title="Load: run sse-doctor load on these with the options shown (the demo's "
                        f"{shlex.join(LOAD_DEMO_ARGS)} too, but for --profile llm)")
    _path_column(loads, [row.path for row in (*LOAD_SCENARIOS, *LLM_LOAD_SCENARIOS)])
    loads.add_column("models", ratio=1)
    loads.add_column("finds", no_wrap=True)
    for row in (*LOAD_SCENARIOS, *LLM_LOAD_SCENARIOS):
        models = Text(row.models)
        models.append(f"\n{shlex.join(row.args)}", style="dim")
        loads.add_row(row.path, models, "\n".join(sorted(row.expect)) or "healthy")
    return Group(head, routes, pages, loads)
