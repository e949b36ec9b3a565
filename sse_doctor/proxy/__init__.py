"""`sse-doctor proxy`: a counting reverse proxy on mitmproxy. streams.py is the pure core,
addon.py the mitmproxy addon (runs inside mitmproxy's own environment), mitm_env.py finds or
sets up that environment, session.py drives mitmdump and feeds the core, har_out.py writes
what it saw as HAR 1.2."""
