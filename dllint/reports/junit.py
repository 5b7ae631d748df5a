"""`--output-format junit`: JUnit XML, which CI services (GitLab, Jenkins, Azure) show as test
results: one test suite, one failed test case per finding (class name the file, name the rule
code), or one passing test case when nothing is found."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from typing import Sequence

from dllint.reports import ReportContext
from dllint.types import Diagnostic

# What XML 1.0 cannot hold at all, even escaped: control characters other than tab and line
# breaks, lone surrogates (a file name that is not valid UTF-8, PEP 383), U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """`text` with what XML cannot hold written as a Python escape (`\\x1b`, `\\udce9`), so the
    report always parses; ElementTree escapes `<`, `&` and quotes itself."""
    return _NOT_XML.sub(lambda match: match.group().encode("unicode_escape",
                                                           "backslashreplace").decode("ascii"),
                        text)


def render(diagnostics: Sequence[Diagnostic], context: ReportContext) -> str:
    count = str(len(diagnostics))
    suites = ElementTree.Element("testsuites", name="dllint", tests=count, failures=count,
                                 errors="0")
    suite = ElementTree.SubElement(suites, "testsuite", name="dllint", tests=count,
                                   failures=count, errors="0")
    for d in diagnostics:
        where = f"cell {d.cell}, line {d.line}, col {d.column}" if d.cell \
            else f"line {d.line}, col {d.column}"
        case = ElementTree.SubElement(suite, "testcase", name=_xml_text(f"{d.code} ({d.name})"),
                                      classname=_xml_text(d.path), file=_xml_text(d.path),
                                      line=str(1 if d.cell else d.line))
        failure = ElementTree.SubElement(case, "failure", message=_xml_text(d.message),
                                         type=d.code)
        failure.text = _xml_text(f"{where}, {d.message}")
    if not diagnostics:
        suite.set("tests", "1")
        suites.set("tests", "1")
        ElementTree.SubElement(suite, "testcase", name="No problems found", classname="dllint")
    ElementTree.indent(suites)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ElementTree.tostring(suites, encoding="unicode") + "\n")
