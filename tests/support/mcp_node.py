"""Where .ci/run installs the official TypeScript MCP packages (npm, into the cache directory;
SSE_DOCTOR_MCP_NODE overrides it)."""

from __future__ import annotations

import os
import pathlib

# Where .ci/run installs the npm packages (SSE_DOCTOR_MCP_NODE overrides it).
NODE_DIR = pathlib.Path(os.environ.get("SSE_DOCTOR_MCP_NODE")
                        or pathlib.Path.home() / ".cache" / "sse-doctor" / "mcp-node")
MODULES = NODE_DIR / "node_modules"
EVERYTHING = MODULES / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
TS_SDK = MODULES / "@modelcontextprotocol" / "sdk" / "package.json"
