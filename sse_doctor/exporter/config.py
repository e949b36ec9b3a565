"""exporter.toml: one `[modules.NAME]` table per kind of stream to probe.

A module is a suite check entry (the same keys `sse-doctor run` accepts in `[[check]]`: the
probe's options, `headers`, `allow`, thresholds; `${VAR}` expands from the environment) plus
the exporter's own keys (EXPORTER_KEYS). The check part goes through the Python API's check
door (`sse_doctor.api.validate_check`, `acheck`), so a module means what the same check means
in a suite: one configuration language. The target comes from each scrape (`?target=`), so a
module has no `url` and is validated at load time against a placeholder of its targets' scheme.

Secrets come from the environment or files, never from the file itself: `bearer_env`,
`header_files`, or `${VAR}` inside a value; a literal credential in a module is refused.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from sse_doctor import api
from sse_doctor.exporter.targets import pattern_parts

# data: the header names whose values are credentials (a literal one in the file is refused)
from sse_doctor.redact import SENSITIVE_HEADERS

COMMAND = "probe"  # what a module runs (experiments change the server's state: not every scrape)
DEFAULT_WINDOW_S = 10.0  # Prometheus' default scrape timeout
FAIL_ON = ("error", "warning", "never")
EXPORTER_KEYS = ("targets", "window", "fail_on", "bearer_env", "header_files")
# Check keys whose values are credentials: literal values are refused (use the environment).
SECRET_KEYS = ("bearer", "cookie", "init_payload")
# Names the secrets read from the environment and files are handed to the check under, as
# ${VAR} references: the check expands them and knows their values for secrets to mask.
BEARER_VAR = "SSE_DOCTOR_EXPORTER_BEARER"
HEADER_VAR = "SSE_DOCTOR_EXPORTER_HEADER_{}"
# Suite keys a module cannot have: the scrape gives the target, the table's name is the name.
NOT_IN_MODULE = {"url": "the target comes from each scrape's ?target= (list the allowed ones "
                        "in 'targets')",
                 "name": "the module's name is its table's: [modules.NAME]",
                 "command": "a module always probes (experiments would change the server's "
                            "state every scrape)",
                 "duration": "write 'window' (the longest a probe of this module runs)",
                 "follow": "not for a prober"}
PLACEHOLDER = "{scheme}://placeholder.invalid/"


class ConfigInvalid(Exception):
    """The configuration has problems; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else "invalid configuration")
        self.problems = problems


@dataclass(frozen=True)
class Module:
    name: str
    entry: dict[str, Any]  # the suite check keys, as written (no name, url or duration)
    targets: tuple[str, ...]  # allowed target patterns
    window: float  # longest a probe of this module runs, seconds
    fail_on: str = "error"  # lowest severity that makes probe_success 0
    bearer_env: str | None = None
    header_files: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"[modules.{self.name}]"

    def secrets(self, env: Mapping[str, str]) -> tuple[str | None, dict[str, str]]:
        """(bearer token, headers) from the environment and files, read now: a rotated
        token or a re-mounted secret file is picked up by the next probe. OSError/KeyError
        when one is missing."""
        bearer = None
        if self.bearer_env is not None:
            bearer = env.get(self.bearer_env, "").strip()
            if not bearer:
                raise KeyError(f"environment variable {self.bearer_env} (bearer_env) is not "
                               "set or empty")
        headers = {}
        for name, path in self.header_files.items():
            with open(path, encoding="utf-8") as fh:
                value = fh.read().strip()
            if not value:
                raise KeyError(f"header file {path} ({name}) is empty")
            headers[name] = value
        return bearer, headers

    def check_entry(self, url: str, *, observe_s: float | None = None,
                    timeout_s: float | None = None,
                    env: Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
        """This module as a suite check entry for `url`, and the environment to expand it
        with (OSError or KeyError when a secret's source is missing). The bearer token and
        the header files' values go in as ${VAR} references to that environment, so the
        check knows them for secrets, and a '$' in them stays literal."""
        env = dict(os.environ if env is None else env)
        bearer, file_headers = self.secrets(env)
        entry: dict[str, Any] = {"name": self.name, "url": url, **self.entry}
        if observe_s is not None:
            entry["duration"] = observe_s
        if timeout_s is not None:
            own = entry.get("timeout", 10.0)
            if isinstance(own, (int, float)) and not isinstance(own, bool):
                entry["timeout"] = min(float(own), timeout_s)
        if bearer is not None:
            env[BEARER_VAR] = bearer
            entry["bearer"] = f"${{{BEARER_VAR}}}"
        if file_headers:
            headers = dict(entry.get("headers") or {})
            for i, (k, v) in enumerate(file_headers.items()):
                headers = {n: x for n, x in headers.items() if n.lower() != k.lower()}
                var = HEADER_VAR.format(i)
                env[var] = v
                headers[k] = f"${{{var}}}"
            entry["headers"] = headers
        return entry, env

    async def check(self, path: str, url: str, deadline_s: float, observe_s: float,
                    env: Mapping[str, str] | None = None) -> api.CheckReport:
        """Probe `url` with this module within `deadline_s`, judged with its fail_on
        (OptionError, OSError or KeyError when it cannot run)."""
        entry, full_env = self.check_entry(url, observe_s=observe_s, timeout_s=deadline_s,
                                           env=env)
        return await api.acheck(entry, deadline=deadline_s, fail_on=self.fail_on,
                                env=full_env, source=path, where=self.where)


@dataclass(frozen=True)
class ExporterConfig:
    path: str
    modules: dict[str, Module]


def _did_you_mean(word: str, choices: set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _literal_secret(value: Any) -> bool:
    """A credential written into the file itself (not `${VAR}` from the environment)."""
    if isinstance(value, list):
        return any(_literal_secret(v) for v in value)
    return isinstance(value, str) and bool(value.strip()) and "${" not in value


class _Reader:
    def __init__(self, path: str, env: Mapping[str, str]) -> None:
        self.path, self.env = path, env
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.path}: {where}: {message}" if where
                             else f"{self.path}: {message}")

    def read(self) -> ExporterConfig:
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise ConfigInvalid([f"{self.path}: cannot read the configuration: "
                                 f"{exc.strerror}"]) from None
        try:
            doc = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigInvalid([f"{self.path}: not UTF-8 text (byte {exc.start})"]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigInvalid([f"{self.path}: not valid TOML: {exc}"]) from None
        for key in doc:
            if key != "modules":
                self.problem("", f"unknown top-level key {key!r}: modules are "
                                 "[modules.NAME] tables")
        tables = doc.get("modules")
        if not isinstance(tables, dict) or not tables:
            self.problem("", "no modules: add at least one [modules.NAME] table")
            tables = {}
        modules: dict[str, Module] = {}
        for name, table in tables.items():
            module = self.module(name, table)
            if module is not None:
                modules[name] = module
        if self.problems:
            raise ConfigInvalid(self.problems)
        return ExporterConfig(self.path, modules)

    def module(self, name: str, table: Any) -> Module | None:
        """One [modules.NAME] table: its keys, the exporter's own values, then the check part
        as the API's check door validates it; None (and problems) when it is bad."""
        where = f"[modules.{name}]"
        if not isinstance(table, dict):
            self.problem(where, "expects a table")
            return None
        before = len(self.problems)
        self.keys(where, table)
        targets = self.targets(where, table)
        window = self.window(where, table)
        fail_on = self.fail_on(where, table)
        bearer_env, header_files = self.secret_sources(where, table)
        if len(self.problems) > before:
            return None
        entry = {k: v for k, v in table.items() if k not in EXPORTER_KEYS}
        module = Module(name=name, entry=entry, targets=tuple(targets), window=window,
                        fail_on=fail_on, bearer_env=bearer_env, header_files=header_files)
        return module if self.check_part(module) else None

    def keys(self, where: str, table: dict[str, Any]) -> None:
        """Every key is a probe option, a suite key or the exporter's; no literal secrets."""
        known = set(api.check_keys(COMMAND)) | set(EXPORTER_KEYS)
        outputs = api.output_options(COMMAND)
        for key, value in table.items():
            if key in NOT_IN_MODULE:
                self.problem(where, f"{key!r}: {NOT_IN_MODULE[key]}")
            elif key in outputs and key != "fail_on":
                self.problem(where, f"{key!r} is an output option: the exporter's output is "
                                    "the exposition")
            elif key not in known:
                self.problem(where, f"unknown key {key!r}{_did_you_mean(key, known)}")
            elif key in SECRET_KEYS and _literal_secret(value):
                self.problem(where, f"{key!r} holds a credential written into the file: take "
                                    "it from the environment"
                                    + (" (bearer_env = \"NAME\")" if key == "bearer"
                                       else " (${NAME})"))
        headers = table.get("headers", {})
        if isinstance(headers, dict):
            for h, v in headers.items():
                if h.lower() in SENSITIVE_HEADERS and _literal_secret(v):
                    self.problem(where, f"header {h!r} holds a credential written into the "
                                        "file: use ${NAME} or header_files")

    def targets(self, where: str, table: dict[str, Any]) -> list[str]:
        targets = table.get("targets")
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list) or not targets \
                or not all(isinstance(t, str) for t in targets):
            self.problem(where, "'targets' expects a list of allowed target patterns, like "
                                "[\"https://api.example.com/v1/events/*\"]")
            return []
        for t in targets:
            try:
                pattern_parts(t)
            except ValueError as exc:
                self.problem(where, f"targets: {exc}")
        return targets

    def window(self, where: str, table: dict[str, Any]) -> float:
        window = table.get("window", DEFAULT_WINDOW_S)
        if isinstance(window, bool) or not isinstance(window, (int, float)) \
                or not math.isfinite(window) or window <= 0:
            self.problem(where, f"'window' expects a number of seconds greater than 0, "
                                f"got {window!r}")
            return DEFAULT_WINDOW_S
        return float(window)

    def fail_on(self, where: str, table: dict[str, Any]) -> str:
        fail_on = table.get("fail_on", "error")
        if fail_on not in FAIL_ON:
            self.problem(where, f"'fail_on' expects one of {', '.join(FAIL_ON)}, "
                                f"got {fail_on!r}")
            return "error"
        return fail_on

    def secret_sources(self, where: str, table: dict[str, Any]) \
            -> tuple[str | None, dict[str, str]]:
        """bearer_env, and header_files with their paths relative to the configuration."""
        bearer_env = table.get("bearer_env")
        if bearer_env is not None and (not isinstance(bearer_env, str) or not bearer_env):
            self.problem(where, "'bearer_env' expects the name of an environment variable")
            bearer_env = None
        header_files = table.get("header_files", {})
        if not isinstance(header_files, dict) or not all(
                isinstance(v, str) and v for v in header_files.values()):
            self.problem(where, "'header_files' expects a table of header names and file "
                                "paths, like { Authorization = \"/run/secrets/token\" }")
            header_files = {}
        base = os.path.dirname(os.path.abspath(self.path))
        return bearer_env, {k: v if os.path.isabs(v) else os.path.join(base, v)
                            for k, v in header_files.items()}

    def check_part(self, module: Module) -> bool:
        """The check part, as the API's check door validates it, for a placeholder target of
        the module's scheme; its secrets' sources must be there already."""
        scheme = pattern_parts(module.targets[0]).scheme
        placeholder = PLACEHOLDER.format(scheme=scheme if scheme in ("http", "https", "ws",
                                                                     "wss") else "http")
        try:
            entry, env = module.check_entry(placeholder, observe_s=module.window, env=self.env)
            api.validate_check(entry, env=env, source=self.path, where=module.where)
        except api.OptionError as exc:
            self.problems.extend(exc.problems)
            return False
        except (OSError, KeyError) as exc:
            detail = exc.args[0] if isinstance(exc, KeyError) else \
                f"cannot read {exc.filename}: {exc.strerror}"
            self.problem(module.where, detail)
            return False
        return True


def load_config(path: str, env: Mapping[str, str] | None = None) -> ExporterConfig:
    """Read and validate exporter.toml; ConfigInvalid with every problem found."""
    return _Reader(path, os.environ if env is None else env).read()
