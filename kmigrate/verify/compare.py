"""Worker side: compare what the two Keras versions computed, check by check.

A probe records a sequence of named checks (``output (training=False)``, ``trajectory step 3``);
the first one outside tolerance decides the ``where`` of a ``differs`` verdict, and the largest
differences over all checks are reported either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Mismatch:
    """A difference that is not a number: shapes, structure, an exception on one side."""

    where: str
    detail: str


@dataclass
class Ledger:
    atol: float
    rtol: float
    checks: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    first_fail: tuple[str, float, float] | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    by_category: dict[str, tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def compare(self, where: str, a: Any, b: Any) -> bool:
        """Compare two (nested) values; True when equal within tolerance."""
        fa, fb = flatten(a), flatten(b)
        if len(fa) != len(fb):
            self.mismatch(where, f"{len(fa)} values under Keras 2, {len(fb)} under Keras 3")
            return False
        ok = True
        for i, (x, y) in enumerate(zip(fa, fb)):
            label = where if len(fa) == 1 else f"{where}[{i}]"
            ok = self._compare_one(label, x, y) and ok
        return ok

    def _compare_one(self, where: str, a: Any, b: Any) -> bool:
        if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
            if a != b:
                self.mismatch(where, f"Keras 2: {a!r}, Keras 3: {b!r}")
                return False
            self.checks += 1
            return True
        xa = np.asarray(a)
        xb = np.asarray(b)
        if xa.shape != xb.shape:
            self.mismatch(where, f"shape {xa.shape} under Keras 2, {xb.shape} under Keras 3")
            return False
        self.checks += 1
        if xa.size == 0:
            return True
        if xa.dtype.kind not in "iuf" or xb.dtype.kind not in "iuf":
            same = bool(np.array_equal(xa, xb))
            if not same:
                shown = f"{xa.tolist()!r}, Keras 3: {xb.tolist()!r}" if xa.size <= 12 else "(values differ)"
                self.mismatch(where, f"Keras 2: {shown}")
            return same
        xa = xa.astype(np.float64)
        xb = xb.astype(np.float64)
        fin_a, fin_b = np.isfinite(xa), np.isfinite(xb)
        if not np.array_equal(fin_a, fin_b) or not np.array_equal(xa[~fin_a], xb[~fin_b]):
            self.mismatch(where, "non-finite values differ (nan/inf in one version only)")
            return False
        diff = np.abs(xa[fin_a] - xb[fin_b])
        if diff.size == 0:
            return True
        scale = np.maximum(np.maximum(np.abs(xa[fin_a]), np.abs(xb[fin_b])), self.atol)
        abs_d = float(diff.max())
        rel_d = float((diff / scale).max())
        self.max_abs = max(self.max_abs, abs_d)
        self.max_rel = max(self.max_rel, rel_d)
        group = category(where)
        prev = self.by_category.get(group, (0.0, 0.0))
        self.by_category[group] = (max(prev[0], abs_d), max(prev[1], rel_d))
        ok = bool(np.all(diff <= self.atol + self.rtol * scale))
        if not ok and self.first_fail is None:
            self.first_fail = (where, abs_d, rel_d)
        return ok

    def mismatch(self, where: str, detail: str) -> None:
        self.mismatches.append(Mismatch(where, detail))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def verdict(self, subject: str) -> dict[str, Any]:
        """The verdict as JSON (the parent turns it into a :class:`Verdict`)."""
        base = {
            "max_abs_diff": self.max_abs if self.checks else None,
            "max_rel_diff": self.max_rel if self.checks else None,
            "tolerance": self.atol,
        }
        notes = "".join(f"; {n}" for n in self.notes)
        if self.mismatches:
            m = self.mismatches[0]
            more = f" (+{len(self.mismatches) - 1} more)" if len(self.mismatches) > 1 else ""
            # The difference is not a number (shape, structure, an exception, a decision).
            return {**base, "max_abs_diff": None, "max_rel_diff": None, "verdict": "differs", "where": m.where,
                    "detail": f"{subject}: {m.where}: {m.detail}{more}{notes}"}
        if self.first_fail is not None:
            # The numbers reported are those of the first failing check's kind (all trajectory
            # steps, or the output), which is what a user compares; the overall max is in detail.
            where, abs_d, rel_d = self.first_fail
            group = category(where)
            g_abs, g_rel = self.by_category[group]
            return {**base, "verdict": "differs", "where": where,
                    "max_abs_diff": g_abs, "max_rel_diff": g_rel,
                    "detail": f"{subject}: differs first at {where} (|diff| {abs_d:.3g}); "
                    f"max |diff| over {group} {g_abs:.3g} (rel {g_rel:.3g}) > atol {self.atol:g} "
                    f"+ rtol {self.rtol:g}; over all checks {self.max_abs:.3g}{notes}"}
        if not self.checks:
            return {**base, "verdict": "unverifiable", "where": None,
                    "detail": f"{subject}: nothing could be compared{notes}"}
        return {**base, "verdict": "equivalent", "where": None,
                "detail": f"{subject}: {self.checks} checks, max |diff| {self.max_abs:.3g} "
                f"(rel {self.max_rel:.3g}) within atol {self.atol:g}, rtol {self.rtol:g}{notes}"}


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def describe(exc: BaseException, limit: int = 200) -> str:
    """``TypeName: the line that says what went wrong`` (Keras 3 wraps errors raised in
    ``call()`` in a first line that only says where; the cause is on a later line)."""
    lines = [ln.strip() for ln in _ANSI.sub("", str(exc)).splitlines() if ln.strip()]
    if lines and lines[0].startswith("Exception encountered when calling") and len(lines) > 1:
        lines = lines[1:]
    text = lines[0][:limit] if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def category(where: str) -> str:
    """``trajectory step 7`` -> ``trajectory``; ``output (training=False)[1]`` -> without ``[1]``."""
    return re.sub(r"( step \d+|\[\d+\])$", "", where)


def flatten(value: Any) -> list[Any]:
    """Nested lists/tuples/dicts of tensors -> a flat list of numpy arrays (or plain values)."""
    if isinstance(value, dict):
        out: list[Any] = []
        for key in sorted(value, key=str):
            out.extend(flatten(value[key]))
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            out.extend(flatten(v))
        return out
    if value is None or isinstance(value, (str, bool, int, float)):
        return [value]
    if hasattr(value, "numpy"):
        return [np.asarray(value.numpy())]
    try:
        return [np.asarray(value)]
    except Exception:  # noqa: BLE001 - an opaque object: compare its type name
        return [type(value).__name__]
