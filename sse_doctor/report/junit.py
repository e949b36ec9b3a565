"""JUnit XML: one testcase per check run, failed when a finding reaches --fail-on."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime

from sse_doctor.codes import fails, get
from sse_doctor.model import Finding, Report
from sse_doctor.redact import Redactor

INCOMPLETE = ("incomplete: interrupted (Ctrl-C or SIGTERM) before the observation window "
              "ended; this check needs the whole window")


def render(report: Report, fail_on: str, redactor: Redactor) -> str:
    root = ET.Element("testsuites", name="sse-doctor")
    total = failures = skipped = 0
    for r in report.results:
        suite = ET.SubElement(root, "testsuite", name=f"{report.command}: {r.name}")
        by_code: dict[str, list] = {}
        for f in r.findings:
            by_code.setdefault(f.code, []).append(f)
        n = nf = ns = 0
        for code in r.checks_run:
            n += 1
            case = ET.SubElement(suite, "testcase", classname=redactor.url(r.url) or r.name,
                                 name=f"{r.name}.{code}" if report.multi else code)
            if code in r.checks_incomplete:
                ns += 1
                ET.SubElement(case, "skipped", message=INCOMPLETE)
                continue
            found = by_code.get(code, [])
            failing = [f for f in found if fails(f.severity, fail_on) and not f.ignored]
            if found and all(f.ignored for f in found):
                ns += 1
                f = found[0]
                ET.SubElement(case, "skipped", message=redactor.text(
                    f"ignored (--ignore): [{f.severity}] {f.title}: {f.detail}"))
                continue
            if failing:
                nf += 1
                f = failing[0]
                node = ET.SubElement(case, "failure", type=f.code,
                                     message=redactor.text(f"[{f.severity}] {f.title}"))
                node.text = redactor.text(f"{f.detail}\nWhat to do: {get(f.code).advice}")
            elif found:
                out = ET.SubElement(case, "system-out")
                out.text = redactor.text("\n".join(f"[{f.severity}] {f.code}: {f.detail}"
                                                   for f in found))
        suite.set("tests", str(n))
        suite.set("failures", str(nf))
        suite.set("errors", "0")
        suite.set("skipped", str(ns))
        total += n
        failures += nf
        skipped += ns
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# --- suites (`sse-doctor run`): one testcase per check -----------------------------------------
# XML 1.0 cannot carry most control characters, and a hostile stream can put any byte into a
# finding's detail: they become U+FFFD so the file stays parseable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(redactor: Redactor, text: str) -> str:
    return _XML_INVALID.sub("\ufffd", redactor.text(text))


@dataclass
class SuiteCase:
    """One check of a suite, as JUnit sees it."""

    name: str
    classname: str
    time_s: float
    failing: list[Finding]  # worst first; any of them fails the testcase
    allowed: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)  # below --fail-on, not allowed


def _finding_block(f: Finding) -> str:
    return f"[{f.severity}] {f.code}: {f.title}\n{f.detail}\nWhat to do: {get(f.code).advice}"


def render_suite(suite_name: str, cases: list[SuiteCase], redactor: Redactor, *,
                 time_s: float, timestamp: datetime | None = None) -> str:
    """A testsuite for the suite, a testcase per check. A failure's message is one line (the
    worst finding's title, which test views show in their list); its text has every failing
    finding with what to do. Allowed findings and notes go to system-out."""
    root = ET.Element("testsuites", name="sse-doctor")
    suite = ET.SubElement(root, "testsuite", name=_x(redactor, suite_name))
    failures = 0
    for c in cases:
        case = ET.SubElement(suite, "testcase", name=_x(redactor, c.name),
                             classname=_x(redactor, c.classname), time=f"{c.time_s:.3f}")
        if c.failing:
            failures += 1
            worst = c.failing[0]
            more = f" (+{len(c.failing) - 1} more)" if len(c.failing) > 1 else ""
            node = ET.SubElement(case, "failure", type=worst.code,
                                 message=_x(redactor, worst.title + more))
            node.text = _x(redactor, "\n\n".join(_finding_block(f) for f in c.failing))
        lines = [f"{'ignored' if f.ignored else 'allowed by the suite'}: [{f.severity}] "
                 f"{f.code}: {f.detail}" for f in c.allowed]
        lines += [f"note: [{f.severity}] {f.code}: {f.detail}" for f in c.notes]
        if lines:
            ET.SubElement(case, "system-out").text = _x(redactor, "\n".join(lines))
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0",
              "skipped": "0", "time": f"{time_s:.3f}"}
    for node in (root, suite):
        for k, v in counts.items():
            node.set(k, v)
    if timestamp is not None:
        suite.set("timestamp", timestamp.replace(microsecond=0, tzinfo=None).isoformat())
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
