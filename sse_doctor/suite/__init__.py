"""Suites: a TOML file of checks run in CI (`sse-doctor run`).

loader (TOML, ${VAR} expansion, validation with locations) -> runner (concurrency, deadlines,
allow lists, thresholds) -> report (JSON), terminal, github (annotations, job summary); JUnit
lives with the other renderers in sse_doctor.report.junit.
"""
