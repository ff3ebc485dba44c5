"""Worker side: the callback probe compares the attributes that drive behaviour.

Which way counts as an improvement (mode, ``monitor_op`` and ``min_delta`` together) is compared
as a decision table over (current, best) pairs rather than as attribute values, because the two
versions store ``min_delta`` with different signs for the same behaviour.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kmigrate.verify.compare import Ledger, describe
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
            return f"decided at training time ({describe(exc, 160)})"
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


SIMULATED = frozenset({"ReduceLROnPlateau", "EarlyStopping", "LearningRateScheduler"})
#: the monitored value at the end of each simulated epoch: improves, then plateaus
MONITORED = (1.0, 0.9, 0.95, 0.9, 0.9, 0.9, 0.9, 0.8999, 0.9, 0.9)


def _simulated(cb: Any, km: Any) -> bool:
    own = type(cb).__module__.split(".")[0] in ("tf_keras", "keras")
    return not own or type(cb).__name__ in SIMULATED


def _learning_rate(model: Any) -> float | None:
    try:
        return float(np.asarray(model.optimizer.learning_rate))
    except (TypeError, ValueError, AttributeError):
        return None


def simulate(cb: Any, km: Any) -> tuple[list[Any], str | None]:
    """Drive the callback's hooks through ten epochs of a tiny compiled model.

    Returns (learning rate and stop flag after each hook, the error that ended it early).
    """
    model = km.Sequential([km.layers.Input((2,)), km.layers.Dense(1)])
    model.compile(optimizer=km.optimizers.SGD(0.1), loss="mse")
    cb.set_model(model)
    cb.set_params({"epochs": len(MONITORED), "steps": 1, "verbose": 0})
    trace: list[Any] = []
    step = "on_train_begin"
    try:
        cb.on_train_begin({})
        for epoch, value in enumerate(MONITORED):
            step = f"epoch {epoch}"
            cb.on_epoch_begin(epoch, {})
            cb.on_train_batch_begin(0, {})
            cb.on_train_batch_end(0, {"loss": value})
            trace.append(("lr after on_epoch_begin", epoch, _learning_rate(model)))
            logs = {"loss": value, "val_loss": value, "acc": 1 - value, "val_acc": 1 - value,
                    "accuracy": 1 - value, "val_accuracy": 1 - value}
            cb.on_epoch_end(epoch, logs)
            trace.append(("lr after on_epoch_end", epoch, _learning_rate(model), bool(model.stop_training)))
        cb.on_train_end({})
    except Exception as exc:  # noqa: BLE001 - user hooks may raise anything
        return trace, f"{step}: {describe(exc, 160)}"
    return trace, None


def _compare_simulation(cb2: Any, cb3: Any, k2: Any, k3: Any, ledger: Ledger) -> str | None:
    if not (_simulated(cb2, k2) and _simulated(cb3, k3)):
        return None
    t2, e2 = simulate(cb2, k2)
    t3, e3 = simulate(cb3, k3)
    if e2 is not None:
        raise ProbeFailed(f"the callback fails under Keras 2 in a simulated fit ({e2})")
    if e3 is not None:
        if "automatically determine" in e3:
            return f"Keras 3 decides the direction from the model's compiled metrics ({e3})"
        ledger.mismatch("simulated fit", f"raises under Keras 3 at {e3}")
        return None
    for a, b in zip(t2, t3):
        label = f"{a[0]} (epoch {a[1]})"
        if len(a) > 3 and a[3] != b[3]:
            ledger.mismatch(f"stop_training after epoch {a[1]}", f"Keras 2: {a[3]}, Keras 3: {b[3]}")
            return None
        if (a[2] is None) != (b[2] is None):
            ledger.mismatch(label, f"learning rate Keras 2: {a[2]}, Keras 3: {b[2]}")
            return None
        if a[2] is not None:
            ledger.compare(label, a[2], b[2])
    return None


def run(cb2: Any, cb3: Any, ledger: Ledger, k2: Any = None, k3: Any = None) -> dict[str, Any]:
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
    if k2 is not None and k3 is not None:
        undecided = _compare_simulation(cb2, cb3, k2, k3, ledger) or undecided
    if undecided and not ledger.mismatches and ledger.first_fail is None:
        raise ProbeFailed(undecided + "; compare with a compiled model")
    if undecided:
        ledger.note(undecided)
    simulated = k2 is not None and _simulated(cb2, k2)
    return {"kind": "callback", "input": "attributes" + (" and a simulated 10-epoch fit" if simulated else "")}


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
