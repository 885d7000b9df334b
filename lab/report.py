"""Reports of a run: the terminal table, JUnit XML, JSON with the full evidence.

One row (and one JUnit testcase) per scenario × mode; a timeline adds one
testcase per step that expects something. A failure says what was expected,
what came, and the evidence behind it (error code and message, trusted_by,
signer, warnings, the validator's steps). A bad file is a JUnit ``<error>``
testcase with every mistake the loader found; each scenario's testcases
carry its title, tags, file and transport as ``<properties>`` (``run --tls``:
and what the TLS endpoint saw of each connection).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from lab.errors import LabError, ScenarioError
from lab.outcome import Expectation
from lab.runner import ModeResult, ScenarioResult
from lab.scenario import scenario_id

__all__ = [
    "Palette",
    "failure_message",
    "format_table",
    "junit_tree",
    "results_json",
    "summary_line",
    "write_json",
    "write_junit",
]

JSON_FORMAT = "ocsp-lab run/1"


@dataclass(frozen=True)
class Palette:
    """ANSI colours, or none (not a terminal, or NO_COLOR set)."""

    enabled: bool = False

    @classmethod
    def for_stream(cls, stream: TextIO) -> Palette:
        """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
        isatty = getattr(stream, "isatty", lambda: False)()
        return cls(enabled=bool(isatty) and not os.environ.get("NO_COLOR"))

    def _paint(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def good(self, text: str) -> str:
        return self._paint("32", text)

    def bad(self, text: str) -> str:
        return self._paint("31;1", text)

    def bold(self, text: str) -> str:
        return self._paint("1", text)


def failure_message(expectation: Expectation) -> str:
    """``step[3] at +6h (wait): connection: expected dropped, got allowed``."""
    differences = "; ".join(str(m) for m in expectation.mismatches)
    return f"{expectation.label}: {differences}"


def failure_details(expectation: Expectation) -> str:
    """The failure message, the evidence in one line, and the validator's steps."""
    lines = [failure_message(expectation), f"evidence: {expectation.actual.summary()}"]
    record = expectation.actual.record
    if record is not None and record.result is not None:
        for check in record.result.checks:
            evidence = check.evidence
            lines.append(f"checked {evidence.subject} (serial {evidence.serial or 0:X}):")
            lines += [
                f"  {step.name:<11} {step.outcome.value:<4} {step.detail}"
                for step in evidence.steps
            ]
            lines.append(f"  verdict     {check.verdict.explain()}")
    return "\n".join(lines)


def _mode_problems(mode: ModeResult) -> list[str]:
    """Each failed expectation: what differed, then the evidence that led there."""
    problems = []
    for expectation in mode.expectations:
        if not expectation.holds:
            problems += [
                failure_message(expectation),
                f"  evidence: {expectation.actual.summary()}",
            ]
    if mode.error:
        problems.append(f"could not run: {mode.error}")
    return problems


def format_table(results: Sequence[ScenarioResult], palette: Palette | None = None) -> str:
    """The summary table: scenario, mode, result, and for failures what differed."""
    paint = palette or Palette()
    rows: list[tuple[str, str, bool | None, list[str]]] = []  # holds None: skipped
    for result in results:
        if result.error:
            rows.append((result.id, "-", False, [f"could not set up: {result.error}"]))
        if result.skipped:
            rows.append((result.id, "-", None, [f"skipped: {result.skipped}"]))
        for mode in result.modes:
            rows.append((result.id, mode.mode, mode.holds, _mode_problems(mode)))
    width = max([len("scenario"), *(len(r[0]) for r in rows)])
    lines = [paint.bold(f"{'scenario':<{width}}  {'mode':<6}  result")]
    for scenario, mode_shown, holds, problems in rows:
        word = "skip" if holds is None else paint.good("ok  ") if holds else paint.bad("FAIL")
        first = problems[0] if problems else ""
        lines.append(f"{scenario:<{width}}  {mode_shown:<6}  {word}  {first}".rstrip())
        lines += [f"{'':<{width}}  {'':<6}        {p}" for p in problems[1:]]
    return "\n".join(lines)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_line(results: Sequence[ScenarioResult], seconds: float, *, bad: int = 0) -> str:
    """``130 scenarios, 256 scenario × mode runs: 255 hold, 1 failed, in 6.1 s``.

    ``bad`` files (not run) lead the line when there are any: ``2 bad files; …``.
    """
    modes = [m for r in results for m in r.modes]
    failed = sum(not m.holds for m in modes) + sum(r.error is not None for r in results)
    skipped = sum(r.skipped is not None for r in results)
    line = (
        f"{_plural(len(results), 'scenario')}{f' ({skipped} skipped)' if skipped else ''}, "
        f"{_plural(len(modes), 'scenario × mode run')}: "
        f"{len(modes) - sum(not m.holds for m in modes)} hold, {failed} failed, in {seconds:.1f} s"
    )
    return f"{_plural(bad, 'bad file')} (not run); {line}" if bad else line


# ---- JUnit XML ----------------------------------------------------------------------------


def _properties(case: ET.Element, properties: Sequence[tuple[str, str]]) -> None:
    """JUnit ``<properties>`` of a testcase (as pytest's ``record_property`` writes them)."""
    if properties:
        holder = ET.SubElement(case, "properties")
        for name, value in properties:
            ET.SubElement(holder, "property", name=name, value=value)


def _scenario_properties(result: ScenarioResult) -> list[tuple[str, str]]:
    scenario = result.scenario
    return [
        ("title", scenario.title),
        ("tags", " ".join(scenario.tags)),
        ("file", str(scenario.path)),
        ("transport", result.transport.value),
    ]


def _tls_properties(expectations: Sequence[Expectation]) -> list[tuple[str, str]]:
    """``run --tls``: what the TLS endpoint saw of each expectation's connection."""
    return [
        (f"{e.label} tls", e.actual.tls.describe())
        for e in expectations
        if e.actual.tls is not None
    ]


def _testcase(
    suite: ET.Element,
    classname: str,
    name: str,
    seconds: float,
    failures: Sequence[Expectation] = (),
    properties: Sequence[tuple[str, str]] = (),
) -> ET.Element:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")
    _properties(case, properties)
    if failures:
        failure = ET.SubElement(
            case,
            "failure",
            message="; ".join(failure_message(e) for e in failures),
            type="ExpectationFailed",
        )
        failure.text = "\n\n".join(failure_details(e) for e in failures)
    return case


def _bad_file_case(suite: ET.Element, problem: LabError) -> None:
    """A file the loader refused: an ``<error>`` with its first mistake, every one in the text."""
    file = getattr(problem, "file", None) or "?"
    name = scenario_id(file).replace("/", ".")
    case = ET.SubElement(suite, "testcase", classname=name, name="load", time="0")
    _properties(case, [("file", file)])
    error = ET.SubElement(case, "error", message=problem.lines[0], type=type(problem).__name__)
    error.text = "\n".join(problem.lines)


def junit_tree(
    results: Sequence[ScenarioResult], seconds: float, *, bad: Sequence[LabError] = ()
) -> ET.ElementTree[ET.Element]:
    """One ``<testsuite>``; a ``<testcase>`` per scenario × mode (× step for timelines).

    Each bad file is one more testcase, an ``<error>`` (it could not run).
    """
    suite = ET.Element("testsuite", name="ocsp-lab", time=f"{seconds:.3f}")
    tests = failures = errors = skipped = 0
    for problem in bad:
        _bad_file_case(suite, problem)
        tests, errors = tests + 1, errors + 1
    for result in results:
        classname = result.id.replace("/", ".")
        properties = _scenario_properties(result)
        if result.error:
            case = _testcase(suite, classname, "setup", 0, properties=properties)
            ET.SubElement(case, "error", message=result.error, type="SetupError")
            tests, errors = tests + 1, errors + 1
        if result.skipped:
            case = _testcase(suite, classname, "skipped", 0, properties=properties)
            ET.SubElement(case, "skipped", message=result.skipped)
            tests, skipped = tests + 1, skipped + 1
        for mode in result.modes:
            at_t0 = [e for e in mode.expectations if e.label.startswith("expect[")]
            steps = [e for e in mode.expectations if not e.label.startswith("expect[")]
            if at_t0 or not steps:
                wrong = [e for e in at_t0 if not e.holds]
                # the t0 checks, and what the mode spent besides its steps (set-up)
                took = mode.seconds - sum(e.seconds for e in steps)
                case = _testcase(
                    suite, classname, mode.mode, took, wrong, properties + _tls_properties(at_t0)
                )
                tests, failures = tests + 1, failures + bool(wrong)
                if mode.error and not steps:
                    ET.SubElement(case, "error", message=mode.error, type="RunError")
                    errors += 1
            for step in steps:
                wrong = [step] if not step.holds else []
                name = f"{mode.mode} {step.label}"
                tls = _tls_properties([step])
                _testcase(suite, classname, name, step.seconds, wrong, properties + tls)
                tests, failures = tests + 1, failures + bool(wrong)
            if mode.error and steps:
                case = _testcase(
                    suite, classname, f"{mode.mode} timeline", 0, properties=properties
                )
                ET.SubElement(case, "error", message=mode.error, type="RunError")
                tests, errors = tests + 1, errors + 1
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    ET.indent(suite)
    return ET.ElementTree(suite)


def write_junit(
    results: Sequence[ScenarioResult],
    seconds: float,
    path: Path,
    *,
    bad: Sequence[LabError] = (),
) -> None:
    """Write the JUnit XML report to ``path``."""
    junit_tree(results, seconds, bad=bad).write(path, encoding="utf-8", xml_declaration=True)


# ---- JSON ---------------------------------------------------------------------------------


def _bad_json(problem: LabError) -> dict[str, Any]:
    if isinstance(problem, ScenarioError):
        return {
            "file": problem.file,
            "mistakes": [
                {"key": m.key, "expected": m.expected, "line": m.line, "message": str(m)}
                for m in problem.mistakes
            ],
        }
    file = getattr(problem, "file", None)
    return {"file": file, "mistakes": [{"message": line} for line in problem.lines]}


def results_json(
    results: Sequence[ScenarioResult], seconds: float, *, bad: Sequence[LabError] = ()
) -> dict[str, Any]:
    """The whole run as JSON-ready data, with every check's full evidence.

    ``bad_files`` (added to format 1 compatibly) lists the files that could not run;
    ``transport`` (added so too) how connections were made: ``direct`` or ``tls``.
    """
    return {
        "format": JSON_FORMAT,
        "transport": _transport(results),
        "holds": not bad and all(r.holds for r in results),
        "seconds": round(seconds, 4),
        "scenarios": [r.to_json() for r in results],
        "bad_files": [_bad_json(problem) for problem in bad],
    }


def _transport(results: Sequence[ScenarioResult]) -> str:
    transports = sorted({r.transport.value for r in results}) or ["direct"]
    return "+".join(transports)


def write_json(
    results: Sequence[ScenarioResult],
    seconds: float,
    path: Path,
    *,
    bad: Sequence[LabError] = (),
) -> None:
    """Write the JSON report to ``path``."""
    path.write_text(json.dumps(results_json(results, seconds, bad=bad), indent=1) + "\n")
