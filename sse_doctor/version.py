"""The package's version, in a module of its own: the renderers and the MCP client name it, and
importing it must not import the package's public facade (sse_doctor/__init__.py loads the API
on first use, which imports the renderers)."""

__version__ = "0.1.0"
