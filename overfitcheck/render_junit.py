"""Outcomes -> JUnit XML: one test case per dataset, so CI systems show pass/fail natively.

A dataset whose verdict matched --fail-on is a <failure> (the verdict and its reasons), one that
could not be diagnosed an <error> (its one-line error); the recommendation goes to system-out.
GitHub (test-reporter actions), GitLab (artifacts:reports:junit) and Jenkins (junit step) read
this shape. Built with ElementTree, so escaping is exact; characters XML 1.0 forbids (control
characters in a column name) are replaced by visible escapes first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from .errors import ExitCode
from .outcome import Outcome
from .verdict import FAMILY_NAMES

SUITE = "overfitcheck"
# Everything XML 1.0 allows is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
# [#x10000-#x10FFFF]; the rest cannot appear in a document, not even as a character reference.
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(outcomes: Sequence[Outcome]) -> str:
    """The JUnit XML document (UTF-8 declared) for a batch's outcomes."""
    cases = [_testcase(o) for o in outcomes]
    failures = sum(case.find("failure") is not None for case in cases)
    errors = sum(case.find("error") is not None for case in cases)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors),
              "skipped": "0"}
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE, **counts})
    suite.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _testcase(o: Outcome) -> ET.Element:
    case = ET.Element("testcase", {"classname": SUITE, "name": _xml(o.name),
                                   "file": _xml(o.path)})
    r = o.report
    if r is None or o.exit_code not in (ExitCode.OK, ExitCode.POLICY_FAILED):
        # Not diagnosed, or diagnosed but its outputs could not be written.
        message = o.error or f"exit {int(o.exit_code)} ({o.exit_code.name.lower()})"
        error = ET.SubElement(case, "error", {"message": _xml(_one_line(message)),
                                              "type": o.exit_code.name})
        error.text = _xml(f"{o.path}: {message}")
    elif o.failed_policy:
        v = r.verdict
        message = f"{v.overall}: {' '.join(v.reasons)}"
        failure = ET.SubElement(case, "failure", {"message": _xml(_one_line(message)),
                                                  "type": v.overall})
        lines = [f"{o.path}: {v.overall} (the verdict matches --fail-on)", *v.reasons, ""]
        lines += [f"{FAMILY_NAMES.get(fv.penalty, fv.penalty)}: {fv.verdict}. "
                  + " ".join(fv.reasons) for fv in v.families]
        failure.text = _xml("\n".join(lines))
    if r is not None:
        out = ET.SubElement(case, "system-out")
        out.text = _xml(f"{r.verdict.overall}. Recommendation: {r.verdict.recommendation}")
    return case


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _xml(text: str) -> str:
    """Text XML 1.0 can hold: forbidden characters become visible escapes such as \\x07."""
    return _FORBIDDEN.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
