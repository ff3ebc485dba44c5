"""Worker side: the callback probe compares the attributes that drive behaviour.

Which way counts as an improvement (mode, ``monitor_op`` and ``min_delta`` together) is compared
as a decision table over (current, best) pairs rather than as attribute values, because the two
versions store ``min_delta`` with different signs for the same behaviour.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kmigrate.verify.compare import Ledger
from kmigrate.verify.probe_layer import ProbeFailed

ATTRIBUTES = (
    "monitor", "patience", "factor", "min_lr", "cooldown", "baseline", "start_from_epoch",
    "restore_best_weights", "save_best_only", "save_weights_only", "save_freq", "initial_value_threshold",
)
BEST = 1.0
OFFSETS = (-0.5, -1e-2, -1e-3, -2e-4, -5e-5, 0.0, 5e-5, 2e-4, 1e-3, 1e-2, 0.5)


def _decisions(cb: Any) -> list[bool] | str:
    """Whether ``BEST + d`` improves on ``BEST`` for each offset, or why that is unknown."""
    if getattr(cb, "monitor_op", "absent") is None and hasattr(cb, "_set_monitor_op"):
        try:
            cb._set_monitor_op()
        except Exception as exc:  # noqa: BLE001 - decided only once a model is attached
            return f"decided at training time ({type(exc).__name__}: {str(exc)[:160]})"
    judge = getattr(cb, "_is_improvement", None)
    if judge is None:
        op = getattr(cb, "monitor_op", None)
        if op is None:
            return "no monitor_op"
        judge = op
    return [bool(np.asarray(judge(BEST + d, BEST))) for d in OFFSETS]


def _schedule_values(cb: Any) -> list[float] | None:
    fn = getattr(cb, "schedule", None)
    if not callable(fn):
        return None
    out = []
    for epoch in range(10):
        try:
            value = fn(epoch, 0.01)
        except TypeError:
            value = fn(epoch)
        out.append(float(np.asarray(value)))
    return out


def run(cb2: Any, cb3: Any, ledger: Ledger) -> dict[str, Any]:
    for name in ATTRIBUTES:
        if hasattr(cb2, name):
            if not hasattr(cb3, name):
                ledger.mismatch(name, f"Keras 2: {getattr(cb2, name)!r}, Keras 3 has no such attribute")
                continue
            a, b = getattr(cb2, name), getattr(cb3, name)
            ledger.compare(name, _plain(a), _plain(b))
    d2, d3 = _decisions(cb2), _decisions(cb3)
    undecided = None
    if isinstance(d2, list) and isinstance(d3, list):
        for offset, a, b in zip(OFFSETS, d2, d3):
            if a != b:
                ledger.mismatch(
                    "improvement test (mode, monitor_op, min_delta)",
                    f"current = best {offset:+g}: Keras 2 {_word(a)}, Keras 3 {_word(b)}",
                )
                break
        else:
            ledger.compare("improvement test (mode, monitor_op, min_delta)", d2, d3)
    elif isinstance(d2, list) != isinstance(d3, list):
        undecided = f"improvement direction: Keras 2 {_show(d2)}, Keras 3 {_show(d3)}"
    s2, s3 = _schedule_values(cb2), _schedule_values(cb3)
    if s2 is not None and s3 is not None:
        ledger.compare("schedule(epoch, 0.01) for epochs 0-9", s2, s3)
    if undecided and not ledger.mismatches and ledger.first_fail is None:
        raise ProbeFailed(undecided + "; compare with a compiled model")
    if undecided:
        ledger.note(undecided)
    return {"kind": "callback", "input": "constructor attributes"}


def _plain(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    try:
        return float(np.asarray(value))
    except (TypeError, ValueError):
        return type(value).__name__


def _show(d: list[bool] | str) -> str:
    if isinstance(d, str):
        return d
    improving = [BEST + o for o, ok in zip(OFFSETS, d) if ok]
    return "min" if improving and improving[0] < BEST else ("max" if improving else "never improves")


def _word(improves: bool) -> str:
    return "counts it as an improvement" if improves else "does not"
