"""Worker side: probes for everything that is not a layer or a callback.

Optimizers run a trajectory from fixed gradients on a fixed variable; schedules are sampled at
fixed steps; activations and other functions are evaluated on a grid; regularizers on a fixed
weight matrix; losses and metrics on fixed batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kmigrate.verify.compare import Ledger, describe
from kmigrate.verify.probe_layer import ProbeFailed

SCHEDULE_STEPS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 1000, 10000)


def _first_error(exc: Exception) -> str:
    return describe(exc)


def optimizer(tf: Any, k3: Any, o2: Any, o3: Any, steps: int, ledger: Ledger) -> dict[str, Any]:
    start = np.linspace(-1.0, 1.0, 4).astype("float32")
    v2 = tf.Variable(start)
    v3 = k3.Variable(start)
    rng = np.random.RandomState(3)
    grads = [rng.standard_normal(4).astype("float32") for _ in range(steps)]
    for k, g in enumerate(grads, start=1):
        try:
            o2.apply_gradients([(tf.constant(g), v2)])
        except Exception as exc:  # noqa: BLE001 - without a Keras 2 trajectory there is no reference
            raise ProbeFailed(f"the original optimizer fails under Keras 2 at step {k}: {_first_error(exc)}") from None
        try:
            o3.apply_gradients([(tf.constant(g), v3)])
        except Exception as exc:  # noqa: BLE001 - a Keras 3 failure is a difference
            ledger.mismatch(f"trajectory step {k}", f"Keras 3 raises {_first_error(exc)}")
            break
        ledger.compare(f"trajectory step {k}", v2.numpy(), np.asarray(v3.numpy()))
    return {"kind": "optimizer", "input": f"{steps} steps of fixed gradients on a 4-vector"}


def schedule(s2: Any, s3: Any, ledger: Ledger) -> dict[str, Any]:
    for step in SCHEDULE_STEPS:
        ledger.compare(f"learning rate at step {step}", np.asarray(s2(step)), np.asarray(s3(step)))
    return {"kind": "schedule", "input": f"steps {list(SCHEDULE_STEPS)}"}


def regularizer(tf: Any, r2: Any, r3: Any, ledger: Ledger) -> dict[str, Any]:
    w = np.random.RandomState(5).standard_normal((4, 3)).astype("float32")
    ledger.compare("penalty", r2(tf.constant(w)), r3(tf.constant(w)))
    return {"kind": "regularizer", "input": "a fixed 4x3 weight matrix", "shape": [4, 3]}


def _pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.RandomState(11)
    logits = rng.standard_normal((4, 3)).astype("float32")
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = np.array([0, 2, 1, 2], "int32")
    onehot = np.eye(3, dtype="float32")[labels]
    binary = np.array([[0.0], [1.0], [1.0], [0.0]], "float32")
    return [
        ("one-hot targets, softmax predictions (4, 3)", onehot, probs.astype("float32")),
        ("integer targets (4,), softmax predictions (4, 3)", labels, probs.astype("float32")),
        ("binary targets, sigmoid predictions (4, 1)", binary, (1 / (1 + np.exp(-logits[:, :1]))).astype("float32")),
        ("real targets and predictions (4, 3)", rng.standard_normal((4, 3)).astype("float32"), logits),
    ]


def _first_pair(fn: Callable[[Any, Any], Any], tf: Any) -> tuple[str, np.ndarray, np.ndarray]:
    errors = []
    for label, yt, yp in _pairs():
        try:
            fn(tf.constant(yt), tf.constant(yp))
            return label, yt, yp
        except Exception as exc:  # noqa: BLE001 - try the next batch
            errors.append(_first_error(exc))
    raise ProbeFailed("no batch worked under Keras 2 (" + "; ".join(errors[:2]) + ")")


def loss(tf: Any, f2: Any, f3: Any, ledger: Ledger) -> dict[str, Any]:
    label, yt, yp = _first_pair(f2, tf)
    ledger.compare("loss value", f2(tf.constant(yt), tf.constant(yp)), f3(tf.constant(yt), tf.constant(yp)))
    return {"kind": "loss", "input": label}


def metric(tf: Any, make2: Callable[[], Any], m2: Any, m3: Any, ledger: Ledger) -> dict[str, Any]:
    label, yt, yp = _first_pair(lambda a, b: make2().update_state(a, b), tf)
    for k in (1, 2):
        m2.update_state(tf.constant(yt), tf.constant(yp))
        m3.update_state(tf.constant(yt), tf.constant(yp))
        ledger.compare(f"result after {k} batch(es)", m2.result(), m3.result())
        yp = yp[::-1].copy()
    return {"kind": "metric", "input": label}


def function(tf: Any, f2: Any, f3: Any, shapes: Sequence[Sequence[int | None]], ledger: Ledger) -> dict[str, Any]:
    rng = np.random.RandomState(0)
    candidates: list[tuple[str, list[int] | None, np.ndarray]] = [
        ("grid of 49 points in [-6, 6]", [49], np.linspace(-6, 6, 49).astype("float32"))
    ]
    for s in shapes:
        concrete = [2 if d is None else int(d) for d in s]
        candidates.append((str(tuple(s)), concrete, rng.standard_normal(concrete).astype("float32")))
    errors = []
    used: list[str] = []
    for label, shape, x in candidates:
        try:
            y2 = f2(tf.constant(x))
        except Exception as exc:  # noqa: BLE001 - try the next input
            errors.append(f"{label}: {_first_error(exc)}")
            continue
        used.append(label)
        try:
            y3 = f3(tf.constant(x))
        except Exception as exc:  # noqa: BLE001 - a Keras 3 failure is a difference
            ledger.mismatch(f"value on {label}", f"Keras 3 raises {_first_error(exc)}")
            continue
        ledger.compare(f"value on {label}", y2, y3)
    if used:
        return {"kind": "function", "input": "; ".join(used)}
    try:
        return loss(tf, f2, f3, ledger)
    except ProbeFailed:
        raise ProbeFailed("no input worked under Keras 2 (" + "; ".join(errors[:3]) + ")") from None
