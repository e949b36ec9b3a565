"""`sse-doctor exporter`: the doctor on call all the time, as a Prometheus blackbox-style prober.

`/probe?target=URL&module=NAME` runs one probe of a module (the same entry as a suite check,
plus the exporter's own keys) through the Python API's check door (sse_doctor.api.acheck),
exactly as `sse-doctor run` runs a check, and answers with the report as Prometheus
exposition. The package is used only through sse_doctor.api (tests/unit/test_architecture.py).

- config: exporter.toml -> modules (validated by sse_doctor.api.validate_check), allowed targets
- deadline: how long a probe may take in a scrape (pure)
- probe: one module probed within its deadline -> the report, judged (the imperative shell)
- metrics: report JSON -> metric families, and their exposition (pure)
- server: the HTTP endpoints (starlette under uvicorn), bounded concurrency
"""
