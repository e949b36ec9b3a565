"""Suite files: TOML in, validated checks out.

The whole file is validated before anything runs, and every problem is collected with its
location (`suite.toml: check[2] "name": unknown key ...`), so one CI run shows all of them.
A check's options become the argv of its command and go through the real command-line parser
(`commandline.parse_args`, built from the option table) and the command's planner (`plan_command`):
a suite accepts exactly what the command line accepts, typed and validated the same way.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


from sse_doctor.codes import REGISTRY
from sse_doctor.commandline import ConversionError, click, parse_args
from sse_doctor.errors import UsageError
from sse_doctor.options import COMMANDS
from sse_doctor.plan import PLANNERS, Plan, plan_command
from sse_doctor.redact import Redactor, is_secret_param

THRESHOLD_KEYS = ("max_first_event_ms", "max_gap_s", "min_events")
# Keys the suite handles itself; every other key of a check is an option of its command.
SUITE_KEYS = ("name", "url", "file", "command", "allow", "ignore", "headers", *THRESHOLD_KEYS)
TOP_KEYS = ("name", "defaults", "check")
DEFAULT_COMMAND = "probe"
# Expanded into these keys, a variable's value is a credential wherever it shows up again.
SECRET_KEYS = {"headers", "header", "bearer", "cookie"}
PLACEHOLDER_URL = "http://placeholder.invalid/"
# Options a command may leave out on the command line but not in a suite, and why.
SUITE_REQUIRES = {
    "proxy": {"duration": "a proxy check ends when its window does (nothing presses Ctrl-C "
                          "in a suite): give it a duration in seconds"},
}

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CHECK_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*check[ \t]*\]\]", re.M)
_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


class SuiteInvalid(Exception):
    """The suite has problems; nothing may run. ``problems`` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass(frozen=True)
class OptionInfo:
    """One option of a command, as a suite key sees it."""

    key: str  # TOML key: the long option name with '-' written as '_'
    flag: str  # the long option, e.g. --idle-limit
    is_flag: bool
    multiple: bool
    secondary: str | None  # --no-x of an on/off flag
    takes_file: bool  # FILE or TEXT|@FILE: relative paths are relative to the suite file
    text_or_file: bool = False  # TEXT|@FILE: only an '@' value is a path


@dataclass
class CheckSpec:
    index: int  # 1-based, in file order
    name: str
    command: str
    url: str
    plan: Plan
    allow: frozenset[str] = frozenset()
    # Codes muted as with --ignore: reported as ignored, never deciding the check.
    ignore: frozenset[str] = frozenset()
    thresholds: dict[str, float] = field(default_factory=dict)
    line: int | None = None  # line of its [[check]] header, when it has one
    secrets: tuple[str, ...] = ()  # values from the environment that must never be shown

    @property
    def location(self) -> str:
        return f'check[{self.index}] "{self.name}"'


@dataclass
class Suite:
    path: str  # as given on the command line
    name: str
    checks: list[CheckSpec]

    def redactor(self) -> Redactor:
        """One redactor that knows every check's secrets: suite outputs mix all checks."""
        red = Redactor()
        for c in self.checks:
            if c.plan.target is not None:
                for k, v in c.plan.target.headers:
                    red.add_header(k, v)
                red.add_url(c.plan.target.url)
            red.merge(c.plan.redactor)  # what the plan learnt (a profile's payload, a HAR's)
            for s in c.secrets:
                red.add_secret(s)
        return red


# --- the commands' options --------------------------------------------------------------------
def command_options(command: str) -> dict[str, OptionInfo]:
    """The suite keys of a command's options (from the option table), output options
    excluded: a suite key is the long flag with '-' written as '_'."""
    out: dict[str, OptionInfo] = {}
    for o in COMMANDS[command].options:
        if o.output:
            continue
        key = o.flag[2:].replace("-", "_")
        out[key] = OptionInfo(key=key, flag=o.flag, is_flag=o.type is bool,
                              multiple=o.multiple, secondary=None,
                              takes_file="FILE" in (o.metavar or "").upper(),
                              text_or_file="@FILE" in (o.metavar or "").upper())
    return out


def output_keys(command: str) -> set[str]:
    return {o.flag[2:].replace("-", "_") for o in COMMANDS[command].options if o.output}


def _did_you_mean(word: str, choices: list[str] | set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- environment variables --------------------------------------------------------------------
def expand_env(text: str, env: Mapping[str, str]) -> tuple[str, list[str], list[str]]:
    """Expand ${NAME} and ${NAME:-default}; '$$' is a literal '$'; any other '$' stays.

    Returns (expanded text, names of the variables used, problems). A variable that is unset
    or empty is a problem unless it has a default: CI systems pass a missing secret as an
    empty string, and an empty token would only show up later as a confusing 401.
    """
    out: list[str] = []
    names: list[str] = []
    problems: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                problems.append(f"unterminated '${{' in {text!r} (write '$$' for a literal '$')")
                out.append(text[i:])
                break
            body = text[i + 2:end]
            name, sep, default = body.partition(":-")
            if not _VAR_NAME.match(name):
                problems.append(f"invalid variable reference '${{{body}}}'")
            else:
                value = env.get(name)
                if value:
                    out.append(value)
                    names.append(name)
                elif sep:
                    out.append(default)
                elif value is None:
                    problems.append(f"undefined environment variable ${{{name}}}")
                else:
                    problems.append(f"environment variable ${{{name}}} is empty "
                                    "(a CI secret that is not set?)")
            i = end + 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out), names, problems


def _expand_value(value: Any, env: Mapping[str, str], where: str,
                  problems: list[str], used: list[str]) -> Any:
    if isinstance(value, str):
        text, names, errs = expand_env(value, env)
        problems.extend(f"{where}: {e}" for e in errs)
        used.extend(names)
        return text
    if isinstance(value, list):
        return [_expand_value(v, env, where, problems, used) for v in value]
    if isinstance(value, dict):
        return {k: _expand_value(v, env, f"{where}.{k}", problems, used)
                for k, v in value.items()}
    return value


# --- values to argv ---------------------------------------------------------------------------
def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return None


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _with_base(info: OptionInfo, value: str, base: str) -> str:
    if not info.takes_file or not base:
        return value
    if value.startswith("@"):
        path = value[1:]
        return "@" + path if os.path.isabs(path) else "@" + os.path.join(base, path)
    if info.text_or_file:  # TEXT|@FILE without '@' is the text itself (a JSON body)
        return value
    return value if os.path.isabs(value) else os.path.join(base, value)


def option_argv(info: OptionInfo, value: Any, base: str) -> tuple[list[str], str | None]:
    """The argv for one suite key, or a problem. '--opt=value' keeps values starting with '-'
    from being read as options."""
    if info.is_flag:
        if not isinstance(value, bool):
            return [], f"expects true or false, got {value!r}"
        if value:
            return [info.flag], None
        return ([info.secondary] if info.secondary else []), None
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not info.multiple:
        return [], "expects a single value, not a list"
    argv = []
    for v in values:
        s = _scalar(v)
        if s is None:
            return [], f"expects a {'list of values' if info.multiple else 'value'}, " \
                       f"not {_kind(v)}"
        argv.append(f"{info.flag}={_with_base(info, s, base)}")
    return argv, None


def header_argv(value: Any) -> tuple[list[str], str | None]:
    if not isinstance(value, dict):
        return [], f'expects a table of header names and values, like {{ Name = "value" }}, ' \
                   f"not {_kind(value)}"
    argv = []
    for k, v in value.items():
        if not isinstance(v, str):
            return [], f"header {k!r} expects a string value, not {_kind(v)}"
        argv.append(f"--header={k}: {v}")
    return argv, None


def _click_problem(exc: Exception) -> str:
    if isinstance(exc, ConversionError):  # the line shows the value itself
        return exc.bare
    if isinstance(exc, click.exceptions.MissingParameter) and exc.param is not None \
            and exc.param.opts and exc.param.opts[0].startswith("--"):
        return f"missing '{exc.param.opts[0][2:].replace('-', '_')}'"  # the suite's key
    if isinstance(exc, click.exceptions.BadParameter) and exc.message:
        return str(exc.message).rstrip(".")
    if isinstance(exc, click.exceptions.ClickException):
        return exc.format_message().replace("\n", " ").rstrip(".")
    return str(exc)


def _merge_headers(base: Any, own: Any) -> Any:
    """Check headers override default headers of the same name (case-insensitive); the rest
    of the defaults' headers stay, so a check adding one header keeps the suite's token."""
    if not isinstance(base, dict) or not isinstance(own, dict):
        return own
    lower = {k.lower() for k in own}
    merged = {k: v for k, v in base.items() if k.lower() not in lower}
    merged.update(own)
    return merged


# --- the loader -------------------------------------------------------------------------------
class _Loader:
    def __init__(self, path: str, env: Mapping[str, str]) -> None:
        self.path = path
        self.env = env
        self.base = os.path.dirname(os.path.abspath(path))
        self.problems: list[str] = []
        self._seen: set[str] = set()
        self._options: dict[str, dict[str, OptionInfo]] = {}

    def parse(self, command: str, argv: list[str]) -> dict[str, Any]:
        """The command's parameters from argv, by the real parser (click errors raise)."""
        return parse_args(command, argv)

    def problem(self, where: str, message: str) -> None:
        line = f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}"
        if line not in self._seen:  # a bad default is reported once, not once per check
            self._seen.add(line)
            self.problems.append(line)

    def options(self, command: str) -> dict[str, OptionInfo]:
        if command not in self._options:
            self._options[command] = command_options(command)
        return self._options[command]

    def all_option_keys(self) -> set[str]:
        keys: set[str] = set()
        for c in PLANNERS:
            keys |= set(self.options(c))
        return keys

    def all_output_keys(self) -> set[str]:
        keys: set[str] = set()
        for c in PLANNERS:
            keys |= output_keys(c)
        return keys

    # ------------------------------------------------------------------------------------
    def load(self) -> Suite:
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise SuiteInvalid([f"{self.path}: cannot read the suite: {exc.strerror}"]) from None
        try:
            text = raw.decode("utf-8")
            doc = tomllib.loads(text)
        except UnicodeDecodeError as exc:
            raise SuiteInvalid([f"{self.path}: not UTF-8 text (byte {exc.start})"]) from None
        except tomllib.TOMLDecodeError as exc:
            msg = str(exc)
            m = _TOML_POS.search(msg)
            where = f"{self.path}:{m.group(1)}:{m.group(2)}" if m else self.path
            msg = _TOML_POS.sub("", msg).strip()
            raise SuiteInvalid([f"{where}: not valid TOML: {msg}"]) from None

        for key in doc:
            if key not in TOP_KEYS:
                self.problem("", f"unknown top-level key {key!r}"
                                 f"{_did_you_mean(key, TOP_KEYS)}")
        name = doc.get("name", os.path.splitext(os.path.basename(self.path))[0])
        if not isinstance(name, str) or not name.strip():
            self.problem("name", "expects a non-empty string")
            name = os.path.basename(self.path)

        defaults = doc.get("defaults", {})
        if not isinstance(defaults, dict):
            self.problem("defaults", "expects a table: write [defaults]")
            defaults = {}
        self._check_defaults(defaults)

        checks_raw = doc.get("check")
        if checks_raw is None:
            self.problem("", "no checks: add at least one [[check]] table")
            checks_raw = []
        elif isinstance(checks_raw, dict):
            self.problem("check", "write [[check]] (a list of checks), not [check]")
            checks_raw = []
        elif not isinstance(checks_raw, list) or not checks_raw:
            self.problem("check", "expects one or more [[check]] tables")
            checks_raw = []

        headers_at = [text.count("\n", 0, m.start()) + 1 for m in _CHECK_HEADER.finditer(text)]
        lines = headers_at if len(headers_at) == len(checks_raw) else []
        checks: list[CheckSpec] = []
        names: dict[str, int] = {}
        for i, raw_check in enumerate(checks_raw, 1):
            spec = self._check(i, raw_check, defaults, lines[i - 1] if lines else None)
            cname = raw_check.get("name") if isinstance(raw_check, dict) else None
            if isinstance(cname, str) and cname:
                if cname in names:
                    self.problem(f'check[{i}] "{cname}"',
                                 f"duplicate name: check[{names[cname]}] has it too")
                else:
                    names[cname] = i
            if spec is not None:
                checks.append(spec)
        if self.problems:
            raise SuiteInvalid(self.problems)
        return Suite(path=self.path, name=name, checks=checks)

    def _check_defaults(self, defaults: dict[str, Any]) -> None:
        known = self.all_option_keys()
        outputs = self.all_output_keys()
        for key in defaults:
            if key == "name":
                self.problem("[defaults]", "'name' cannot have a default: name each check")
            elif key in outputs:
                self.problem("[defaults]", f"{key!r} is an output option: pass it to "
                                           "'sse-doctor run', not in the suite")
            elif key not in SUITE_KEYS and key not in known:
                self.problem("[defaults]", f"unknown key {key!r}"
                                           f"{_did_you_mean(key, known | set(SUITE_KEYS))}")
        # Suite keys are checked here too: a check that overrides them would hide a bad default.
        if "allow" in defaults:
            self._allow(defaults["allow"], "[defaults]")
        if "ignore" in defaults:
            self._allow(defaults["ignore"], "[defaults]", "ignore")
        self._thresholds(defaults, {k: "[defaults]" for k in THRESHOLD_KEYS})

    def _check(self, index: int, raw: Any, defaults: dict[str, Any],
               line: int | None, where: str | None = None) -> CheckSpec | None:
        loc = where or f"check[{index}]"
        if not isinstance(raw, dict):
            self.problem(loc, f"expects a table, not {_kind(raw)}")
            return None
        name = raw.get("name")
        if isinstance(name, str) and name.strip():
            loc = where or f'check[{index}] "{name}"'
        else:
            self.problem(loc, "missing 'name'" if name is None else "'name' expects a "
                                                                     "non-empty string")
        before = len(self.problems)
        command = self._command_of(raw, defaults, loc)
        if command is None:
            return None
        opts = self.options(command)
        self._unknown_keys(raw, command, opts, loc)
        merged, origin = self._merged(raw, defaults, opts, loc)
        expanded, secrets = self._expanded(merged, origin)
        url = self._subject(command, raw, expanded, origin, loc)
        for key, why in SUITE_REQUIRES.get(command, {}).items():
            if key not in expanded:
                self.problem(loc, f"missing '{key}': {why}")
        allow = self._allow(expanded.get("allow", []), origin.get("allow", loc))
        ignore = self._allow(expanded.get("ignore", []), origin.get("ignore", loc), "ignore")
        thresholds = self._thresholds(expanded, origin)
        parts = self._argv_parts(expanded, origin, opts)
        if len(self.problems) > before or url is None or not isinstance(name, str):
            self._parse_each(command, parts)
            return None
        argv = [a for _, _, part in parts for a in part]
        try:
            params = self.parse(command, [*argv, "--", url] if COMMANDS[command].args
                                else argv)
        except click.exceptions.ClickException as exc:
            self._parse_each(command, parts)
            if len(self.problems) == before:
                self.problem(loc, _click_problem(exc))
            return None
        try:
            plan = plan_command(command, params)
        except UsageError as exc:
            self.problem(loc, str(exc))
            return None
        return CheckSpec(index=index, name=name, command=command, url=url, plan=plan,
                         allow=frozenset(allow), ignore=frozenset(ignore),
                         thresholds=thresholds, line=line,
                         secrets=tuple(secrets))

    def _command_of(self, raw: dict[str, Any], defaults: dict[str, Any],
                    loc: str) -> str | None:
        command = raw.get("command", defaults.get("command", DEFAULT_COMMAND))
        cmd_where = loc if "command" in raw else "[defaults]"
        if not isinstance(command, str) or command not in PLANNERS:
            have = ", ".join(sorted(PLANNERS))
            shown = command if isinstance(command, str) else _kind(command)
            self.problem(cmd_where, f"unknown command {shown!r}"
                                    f"{_did_you_mean(str(command), set(PLANNERS))} "
                                    f"(have: {have})")
            return None
        return command

    def _unknown_keys(self, raw: dict[str, Any], command: str, opts: dict[str, Any],
                      loc: str) -> None:
        outputs = output_keys(command)
        for key in raw:
            if key in SUITE_KEYS or key in opts:
                continue
            if key in outputs:
                self.problem(loc, f"{key!r} is an output option: pass it to 'sse-doctor run', "
                                  "not per check")
            elif key in self.all_option_keys():
                self.problem(loc, f"{key!r} is not an option of '{command}'")
            else:
                self.problem(loc, f"unknown key {key!r}"
                                  f"{_did_you_mean(key, set(opts) | set(SUITE_KEYS))}")

    @staticmethod
    def _merged(raw: dict[str, Any], defaults: dict[str, Any], opts: dict[str, Any],
                loc: str) -> tuple[dict[str, Any], dict[str, str]]:
        """Defaults apply unless the check sets the key; options only where the command has
        them. Returns the values and where each was set."""
        merged: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for key, value in defaults.items():
            if key in SUITE_KEYS or key in opts:
                merged[key] = value
                origin[key] = "[defaults]"
        for key, value in raw.items():
            if key in SUITE_KEYS or key in opts:
                merged[key] = _merge_headers(merged.get(key), value) if key == "headers" \
                    else value
                origin[key] = loc
        return merged, origin

    def _expanded(self, merged: dict[str, Any], origin: dict[str, str]
                  ) -> tuple[dict[str, Any], list[str]]:
        """Environment variables expanded, and which of their values are secrets."""
        secrets: list[str] = []
        expanded: dict[str, Any] = {}
        for key, value in merged.items():
            if key == "name":  # names are literal: stable test names, stable locations
                continue
            errs: list[str] = []
            used: list[str] = []
            expanded[key] = _expand_value(value, self.env, key, errs, used)
            for e in errs:
                self.problem(origin[key], e)
            for var in used:
                if key in SECRET_KEYS or is_secret_param(var):
                    secrets.append(self.env[var])
        return expanded, secrets

    def _subject(self, command: str, raw: dict[str, Any], expanded: dict[str, Any],
                 origin: dict[str, str], loc: str) -> str | None:
        """What the command runs on: a URL, or for `har` the capture file (relative to the
        suite file, like every other file a check names). A command without one (`proxy`:
        its options name where it listens and its upstream) is named by its upstream."""
        if not COMMANDS[command].args:
            for key in ("url", "file"):
                if key in raw:
                    self.problem(loc, f"'{key}' is not a key of '{command}' checks: give "
                                      "'listen' and 'upstream'")
            upstream = expanded.get("upstream")
            return upstream if isinstance(upstream, str) else ""
        arg = COMMANDS[command].args[0].key
        other = "file" if arg == "url" else "url"
        if other in raw:
            self.problem(loc, f"'{other}' is not a key of '{command}' checks: give '{arg}'")
        url = expanded.get(arg)
        if url is None:
            self.problem(loc, f"missing '{arg}'")
        elif not isinstance(url, str) or not url:
            self.problem(origin[arg], f"'{arg}' expects a non-empty string")
            url = None
        elif arg == "file" and not os.path.isabs(url):
            url = os.path.join(self.base, url)
        return url

    def _argv_parts(self, expanded: dict[str, Any], origin: dict[str, str],
                    opts: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
        """Each option as command-line arguments: (key, where it was set, its argv)."""
        parts: list[tuple[str, str, list[str]]] = []
        for key, value in expanded.items():
            if key in SUITE_KEYS and key != "headers":
                continue
            if key == "headers":
                part, err = header_argv(value)
            else:
                part, err = option_argv(opts[key], value, self.base)
            if err:
                self.problem(origin[key], f"{key}: {err}")
            else:
                parts.append((key, origin[key], part))
        return parts

    def _parse_each(self, command: str, parts: list[tuple[str, str, list[str]]]) -> None:
        """Parse key by key, so every bad key is reported, not just the first one met."""
        for key, where, part in parts:
            try:
                self.parse(command, [*part, "--", PLACEHOLDER_URL] if COMMANDS[command].args
                           else part)
            except click.exceptions.MissingParameter:
                continue  # another key's absence (proxy's listen), not this key's fault
            except click.exceptions.ClickException as exc:
                values = [a.partition("=")[2] for a in part]
                shown = values[0] if len(values) == 1 else values
                self.problem(where, f"{key}: {_click_problem(exc)} (got {shown!r})")

    def _allow(self, value: Any, where: str, key: str = "allow") -> list[str]:
        codes = [value] if isinstance(value, str) else value
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            self.problem(where, f"'{key}' expects a list of finding codes")
            return []
        for c in codes:
            if c not in REGISTRY:
                self.problem(where, f"{key}: unknown finding code {c!r}"
                                    f"{_did_you_mean(c, set(REGISTRY))}")
        return [c for c in codes if c in REGISTRY]

    def _thresholds(self, values: dict[str, Any], origin: dict[str, str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for key in THRESHOLD_KEYS:
            if key not in values:
                continue
            v = values[key]
            if key == "min_events":
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    self.problem(origin[key], f"{key}: expects a whole number of events, at "
                                              f"least 1, got {v!r}")
                    continue
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                unit = "milliseconds" if key.endswith("_ms") else "seconds"
                self.problem(origin[key], f"{key}: expects a number of {unit} greater than 0, "
                                          f"got {v!r}")
                continue
            out[key] = v
        return out


def load_check(path: str, entry: dict[str, Any], *, where: str,
               env: Mapping[str, str] | None = None) -> CheckSpec:
    """One check entry (the keys of a suite's [[check]] table, `name` and `url` included) into a
    validated CheckSpec, outside any suite file: the exporter's modules are check entries.
    `path` names the file in problems, `where` the entry; raises SuiteInvalid."""
    loader = _Loader(path, os.environ if env is None else env)
    spec = loader._check(1, entry, {}, None, where=where)
    if loader.problems or spec is None:
        raise SuiteInvalid(loader.problems or [f"{path}: {where}: invalid"])
    return spec


def load_suite(path: str, env: Mapping[str, str] | None = None) -> Suite:
    """Read and validate a suite file; raises SuiteInvalid with every problem found."""
    return _Loader(path, os.environ if env is None else env).load()
