"""``--statistics``: how many findings each rule has, and how many of them a fix handles."""

from __future__ import annotations

import json
from collections import Counter

from kmigrate.report import Report


def _fixable(report: Report, safety: str | None) -> bool:
    return safety == "safe" or (safety == "unsafe" and report.unsafe_fixes)


def rows(report: Report) -> list[dict[str, object]]:
    counts: Counter[str] = Counter()
    fixable: Counter[str] = Counter()
    names: dict[str, str] = {}
    for d in report.diagnostics:
        counts[d.code] += 1
        names[d.code] = d.name
        if d.fix is not None and _fixable(report, d.fix.safety):
            fixable[d.code] += 1
    return [
        {"code": code, "name": names[code], "count": n, "fixable": fixable[code]}
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def render(report: Report, as_json: bool = False) -> str:
    table = rows(report)
    if as_json:
        return json.dumps(table, indent=2) + "\n"
    if not table:
        return "No findings.\n"
    width = max(len(str(r["count"])) for r in table)
    out = []
    for r in table:
        n, k = int(r["count"]), int(r["fixable"])  # type: ignore[call-overload]
        mark = "[*]" if k == n else "[-]" if k else "   "
        note = f"  ({k} of {n} fixable)" if 0 < k < n else ""
        out.append(f"{n:>{width}}  {r['code']}  {mark} {r['name']}{note}")
    total = sum(int(r["count"]) for r in table)  # type: ignore[call-overload]
    fixed = sum(int(r["fixable"]) for r in table)  # type: ignore[call-overload]
    files = report.files_checked
    command = "`kmigrate fix --apply" + (" --unsafe-fixes`" if report.unsafe_fixes else "`")
    out.append(
        f"Found {total} finding{'s' if total != 1 else ''} in {files} file{'s' if files != 1 else ''} checked; "
        f"{fixed} fixable with {command}."
    )
    out.append("[*] every finding fixable, [-] some fixable.")
    return "\n".join(out) + "\n"
