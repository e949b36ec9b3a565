"""JUnit XML: one testcase per check run, failed when a finding reaches --fail-on."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sse_doctor.checks.registry import SEVERITY_RANK, get
from sse_doctor.model import Report
from sse_doctor.redact import Redactor


def fails(severity: str, fail_on: str) -> bool:
    if fail_on == "never":
        return False
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[fail_on]


def render(report: Report, fail_on: str, redactor: Redactor) -> str:
    root = ET.Element("testsuites", name="sse-doctor")
    total = failures = 0
    for r in report.results:
        suite = ET.SubElement(root, "testsuite", name=f"{report.command}: {r.name}")
        by_code: dict[str, list] = {}
        for f in r.findings:
            by_code.setdefault(f.code, []).append(f)
        n = nf = 0
        for code in r.checks_run:
            n += 1
            case = ET.SubElement(suite, "testcase", classname=redactor.url(r.url) or r.name,
                                 name=f"{r.name}.{code}" if report.multi else code)
            found = by_code.get(code, [])
            failing = [f for f in found if fails(f.severity, fail_on)]
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
        total += n
        failures += nf
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
