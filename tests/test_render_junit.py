"""The JUnit XML, read back with junitparser as CI systems read it: counts, results, messages."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from junitparser import Error, Failure, JUnitXml, TestSuite
from outcomes import HOSTILE, make_outcomes

from overfitcheck.errors import ExitCode
from overfitcheck.outcome import Outcome
from overfitcheck.render_junit import render_junit


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    return make_outcomes(tmp_path_factory.mktemp("batch"))


@pytest.fixture
def parsed(outcomes, tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(render_junit(outcomes), encoding="utf-8")
    return JUnitXml.fromfile(str(path))


def test_counts_of_tests_failures_and_errors(parsed):
    assert (parsed.tests, parsed.failures, parsed.errors, parsed.skipped) == (4, 1, 1, 0)
    suites = list(parsed)
    assert len(suites) == 1 and isinstance(suites[0], TestSuite)
    suite = suites[0]
    assert suite.name == "overfitcheck"
    assert (suite.tests, suite.failures, suite.errors) == (4, 1, 1)
    assert [case.classname for case in suite] == ["overfitcheck"] * 4


def test_each_dataset_is_a_case_with_its_result(parsed, outcomes):
    cases = list(next(iter(parsed)))
    shown = HOSTILE.replace("\x07", "\\x07")  # XML 1.0 cannot hold the control character
    assert [case.name for case in cases] == ["diabetes", shown, "no_signal", f"hitters {shown}"]
    assert [case.is_passed for case in cases] == [True, False, True, False]
    assert [type(r) for r in cases[1].result] == [Failure]
    assert [type(r) for r in cases[3].result] == [Error]


def test_a_failure_carries_the_verdict_and_its_reasons(parsed, outcomes):
    case = list(next(iter(parsed)))[1]
    verdict = outcomes[1].report.verdict
    (failure,) = case.result
    assert failure.type == "overfitting"
    assert failure.message == f"overfitting: {' '.join(verdict.reasons)}"
    for reason in verdict.reasons:
        assert reason in failure.text
    assert "L2 (ridge): overfitting." in failure.text  # each family's verdict too
    assert case.system_out == (f"overfitting. Recommendation: {verdict.recommendation}")


def test_an_error_carries_the_one_line_error(parsed, outcomes):
    case = list(next(iter(parsed)))[3]
    (error,) = case.result
    assert error.type == "BAD_DATA"
    assert error.message == outcomes[3].error
    assert error.message.startswith("target column 'salary_k' not found") and "Fix:" in \
        error.message
    assert case.system_out is None  # no report, no recommendation


def test_a_passing_case_reports_its_recommendation(parsed, outcomes):
    case = list(next(iter(parsed)))[0]
    assert case.result == []
    assert case.system_out == (f"good_fit. Recommendation: "
                               f"{outcomes[0].report.verdict.recommendation}")


def test_forbidden_characters_and_markup_are_escaped(tmp_path):
    name = "a\x00b\x1bc\ud800 <tag attr=\"x\"> & ]]> 'q'\n"
    outcomes = [Outcome(name, "x.csv", None, None, f"column {name!r} broke. Fix: rename",
                        ExitCode.BAD_DATA),
                Outcome("crash", "y.csv", None, None, None, ExitCode.INTERNAL)]
    text = render_junit(outcomes)
    root = ET.fromstring(text.encode("utf-8"))  # well-formed XML 1.0
    first, second = root.iter("testcase")
    assert first.get("name") == "a\\x00b\\x1bc\\ud800 <tag attr=\"x\"> & ]]> 'q'\n"
    assert second.find("error").get("message") == "exit 4 (internal)"
    assert second.find("error").get("type") == "INTERNAL"
    assert root.get("errors") == "2" and root.get("failures") == "0"


def test_no_outcomes_is_an_empty_suite(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(render_junit([]), encoding="utf-8")
    assert JUnitXml.fromfile(str(path)).tests == 0
