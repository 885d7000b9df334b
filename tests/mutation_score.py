"""The mutation score of a ``mutmut run``: ``python -m tests.mutation_score [PATTERN ...]``.

mutmut 3 keeps each mutant's test exit code in ``mutants/<file>.meta`` (JSON,
``exit_code_by_key``). This counts the mutants whose names match a PATTERN
(fnmatch, as ``mutmut run`` takes them; none: every mutant) and prints
killed / checked and the survivors, for ``make mutation`` and
docs/mutation-testing.md. Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections import Counter
from pathlib import Path

#: mutmut's exit codes (mutmut/stats.py): 1 and 3 are a failing test run, 0 a passing one.
_STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests"}
_TIMEOUTS = {24, -24, 36, 152, 255}


def _status(code: int | None) -> str:
    if code is None:
        return "not checked"
    if code in _TIMEOUTS:
        return "timeout"  # a mutant that never ends is caught: counted as killed below
    return _STATUS.get(code, "suspicious")


def main(argv: list[str]) -> int:
    patterns = argv or ["*"]
    metas = sorted(Path("mutants").rglob("*.meta"))
    if not metas:
        print("mutation_score: no mutants/*.meta: run `make mutation` first", file=sys.stderr)
        return 2
    statuses: dict[str, str] = {}
    for meta in metas:
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name, code in codes.items():
            if any(fnmatch.fnmatchcase(name, p.strip("'")) for p in patterns):
                statuses[name] = _status(code)
    counts = Counter(statuses.values())
    checked = sum(n for status, n in counts.items() if status != "not checked")
    caught = counts["killed"] + counts["timeout"]
    for name in sorted(n for n, s in statuses.items() if s not in ("killed", "timeout")):
        if statuses[name] != "not checked":
            print(f"  {statuses[name]:<10} {name}")
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    score = 100 * caught / checked if checked else 0.0
    print(f"mutation score: {caught}/{checked} killed ({score:.1f} %); {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
