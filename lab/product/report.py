"""Reports of a product run: the ``run`` table with model and product side by side, JUnit, JSON.

One row (one JUnit testcase) per scenario × mode, as ``run``; a skipped
scenario is one row saying why (JUnit ``<skipped>``). A difference is a
failure that shows both sides: what the model decided and why (its
evidence, the policy row) and what the product did (outcome, alert, exit
status, its output's tail, the OCSP requests it sent).
"""

from __future__ import annotations

import json
import statistics
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.product.compare import Comparison, ProductMode, ProductScenarioResult
from lab.product.profile import ProductProfile
from lab.report import Palette

__all__ = [
    "JSON_FORMAT",
    "comparison_details",
    "format_table",
    "junit_tree",
    "results_json",
    "summary_line",
    "write_json",
    "write_junit",
]

JSON_FORMAT = "ocsp-lab product-run/1"
_OUTPUT_LINES = 3  # of the product's output, in the table (JUnit and JSON keep the tail)


def _last_lines(output: str, count: int) -> list[str]:
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    return lines[-count:]


def comparison_details(comparison: Comparison, *, output_lines: int | None = None) -> list[str]:
    """A difference in lines: what differed, the model's side, the product's side."""
    product = comparison.product
    lines = [
        comparison.difference(),
        f"  model:   {comparison.model_words()}",
        f"  product: {product.summary()}",
    ]
    if product.argv:
        lines.append(f"  command: {' '.join(product.argv)}")
    output = (
        product.output
        if output_lines is None
        else "\n".join(_last_lines(product.output, output_lines))
    )
    lines += [f"  output:  {line}" for line in output.splitlines() if line.strip()]
    return lines


def _mode_problems(mode: ProductMode) -> list[str]:
    problems: list[str] = []
    for comparison in mode.comparisons:
        if not comparison.agrees:
            problems += comparison_details(comparison, output_lines=_OUTPUT_LINES)
    if mode.error:
        problems.append(f"could not run: {mode.error}")
    return problems


def _agreement(mode: ProductMode) -> str:
    """For a row that agrees: the decisions, ``allowed`` / ``refused (alert …)``."""
    return "; ".join(
        f"{c.label}: {c.expected.value} = {c.product.connection.value}" for c in mode.comparisons
    )


def format_table(results: Sequence[ProductScenarioResult], palette: Palette | None = None) -> str:
    """scenario, mode, result (ok / FAIL / skip), then what both sides did."""
    paint = palette or Palette()
    rows: list[tuple[str, str, str, list[str]]] = []
    for result in results:
        if result.skipped:
            rows.append((result.id, "-", "skip", [result.skipped]))
        if result.error:
            rows.append((result.id, "-", "FAIL", [f"could not set up: {result.error}"]))
        for mode in result.modes:
            if mode.agrees:
                rows.append((result.id, mode.mode, "ok", [_agreement(mode)]))
            else:
                rows.append((result.id, mode.mode, "FAIL", _mode_problems(mode)))
    width = max([len("scenario"), *(len(r[0]) for r in rows)])
    lines = [paint.bold(f"{'scenario':<{width}}  {'mode':<6}  result  model = product")]
    for scenario, mode_shown, word, problems in rows:
        shown = {
            "ok": paint.good("ok  "),
            "FAIL": paint.bad("FAIL"),
            "skip": "skip",
        }[word]
        first = problems[0] if problems else ""
        lines.append(f"{scenario:<{width}}  {mode_shown:<6}  {shown}    {first}".rstrip())
        lines += [f"{'':<{width}}  {'':<6}          {p}" for p in problems[1:]]
    return "\n".join(lines)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_line(results: Sequence[ProductScenarioResult], seconds: float, *, bad: int = 0) -> str:
    """``152 scenarios (20 skipped), 132 scenario × mode runs: 130 agree, 2 differ, in …``."""
    modes = [m for r in results for m in r.modes]
    skipped = sum(r.skipped is not None for r in results)
    differ = sum(not m.agrees for m in modes) + sum(r.error is not None for r in results)
    overheads = [r.lab_seconds for r in results if r.modes]
    overhead = (
        f"; lab overhead {statistics.median(overheads) * 1000:.0f} ms a scenario (median)"
        if overheads
        else ""
    )
    line = (
        f"{_plural(len(results), 'scenario')} ({skipped} skipped), "
        f"{_plural(len(modes), 'scenario × mode run')}: "
        f"{len(modes) - sum(not m.agrees for m in modes)} agree, {differ} differ, "
        f"in {seconds:.1f} s{overhead}"
    )
    return f"{_plural(bad, 'bad file')} (not run); {line}" if bad else line


# ---- JUnit --------------------------------------------------------------------------------


def junit_tree(
    results: Sequence[ProductScenarioResult],
    seconds: float,
    profile: ProductProfile,
    *,
    bad: Sequence[LabError] = (),
) -> ET.ElementTree[ET.Element]:
    """One ``<testsuite>`` named after the profile; a testcase per scenario × mode."""
    suite = ET.Element("testsuite", name=f"ocsp-lab product {profile.title}", time=f"{seconds:.3f}")
    tests = failures = errors = skipped = 0
    for problem in bad:
        case = ET.SubElement(suite, "testcase", classname="load", name="load", time="0")
        error = ET.SubElement(case, "error", message=problem.lines[0], type=type(problem).__name__)
        error.text = "\n".join(problem.lines)
        tests, errors = tests + 1, errors + 1
    for result in results:
        classname = result.id.replace("/", ".")
        if result.skipped or result.error:
            case = ET.SubElement(suite, "testcase", classname=classname, name="product", time="0")
            if result.skipped:
                ET.SubElement(case, "skipped", message=result.skipped)
                skipped += 1
            else:
                ET.SubElement(case, "error", message=result.error or "", type="SetupError")
                errors += 1
            tests += 1
        for mode in result.modes:
            took = sum(c.product.seconds for c in mode.comparisons)
            case = ET.SubElement(
                suite, "testcase", classname=classname, name=mode.mode, time=f"{took:.3f}"
            )
            tests += 1
            wrong = [c for c in mode.comparisons if not c.agrees]
            if wrong:
                failure = ET.SubElement(
                    case,
                    "failure",
                    message="; ".join(c.difference() for c in wrong),
                    type="ProductDiffers",
                )
                failure.text = "\n\n".join("\n".join(comparison_details(c)) for c in wrong)
                failures += 1
            if mode.error:
                ET.SubElement(case, "error", message=mode.error, type="RunError")
                errors += 1
    for name, value in (
        ("tests", tests),
        ("failures", failures),
        ("errors", errors),
        ("skipped", skipped),
    ):
        suite.set(name, str(value))
    ET.indent(suite)
    return ET.ElementTree(suite)


def write_junit(
    results: Sequence[ProductScenarioResult],
    seconds: float,
    path: Path,
    profile: ProductProfile,
    *,
    bad: Sequence[LabError] = (),
) -> None:
    junit_tree(results, seconds, profile, bad=bad).write(
        path, encoding="utf-8", xml_declaration=True
    )


# ---- JSON ---------------------------------------------------------------------------------


def results_json(
    results: Sequence[ProductScenarioResult],
    seconds: float,
    profile: ProductProfile,
    *,
    bad: Sequence[LabError] = (),
) -> dict[str, Any]:
    """The whole product run: the profile, each scenario's comparisons with both sides."""
    return {
        "format": JSON_FORMAT,
        "profile": profile.to_json(),
        "agrees": not bad and all(r.agrees for r in results),
        "seconds": round(seconds, 4),
        "scenarios": [r.to_json() for r in results],
        "bad_files": [{"message": line} for problem in bad for line in problem.lines],
    }


def write_json(
    results: Sequence[ProductScenarioResult],
    seconds: float,
    path: Path,
    profile: ProductProfile,
    *,
    bad: Sequence[LabError] = (),
) -> None:
    document = results_json(results, seconds, profile, bad=bad)
    path.write_text(json.dumps(document, indent=1) + "\n")
