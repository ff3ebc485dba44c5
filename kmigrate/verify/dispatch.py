"""Worker side: run one probe request (JSON in, JSON out), whatever the user code does.

Every exception from user code is caught here and turned into a verdict; only a crash or a
hang of the whole process is left to the parent (which restarts the worker).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from kmigrate.verify import probe_callback, probe_layer, probe_values, sandbox
from kmigrate.verify.compare import Ledger, describe
from kmigrate.verify.probe_layer import ProbeFailed

KINDS = ("layer", "schedule", "optimizer", "callback", "loss", "metric", "regularizer")


class Modules:
    """TensorFlow, tf_keras and keras, imported once per worker."""

    def __init__(self) -> None:
        import keras
        import tensorflow as tf
        import tf_keras

        self.tf, self.k2, self.k3 = tf, tf_keras, keras

    def versions(self) -> dict[str, str]:
        return {"tensorflow": self.tf.__version__, "tf_keras": self.k2.__version__, "keras": self.k3.__version__}


def kind_of(obj: Any, km: Any) -> str:
    optimizer_types = tuple(
        t for t in (getattr(km.optimizers, "Optimizer", None),
                    getattr(getattr(km.optimizers, "legacy", None), "Optimizer", None)) if isinstance(t, type)
    )
    table = (
        ("metric", (km.metrics.Metric,)),  # before "layer": a Keras 2 Metric is a Layer
        ("loss", (km.losses.Loss,)),
        ("layer", (km.layers.Layer,)),
        ("schedule", (km.optimizers.schedules.LearningRateSchedule,)),
        ("optimizer", optimizer_types),
        ("callback", (km.callbacks.Callback,)),
        ("regularizer", (km.regularizers.Regularizer,)),
    )
    for kind, types_ in table:
        if types_ and isinstance(obj, types_):
            return kind
    if callable(obj) and not isinstance(obj, type):
        return "function"
    return f"unsupported ({type(obj).__name__})"


def _error(exc: BaseException) -> str:
    return describe(exc, 240)


def _seed(m: Modules) -> None:
    random.seed(0)
    np.random.seed(0)
    m.tf.random.set_seed(0)
    m.k3.utils.set_random_seed(0)


def _unverifiable(detail: str, **info: Any) -> dict[str, Any]:
    return {"verdict": "unverifiable", "detail": detail, "max_abs_diff": None,
            "max_rel_diff": None, "tolerance": None, "where": None, **info}


def _differs(where: str, detail: str, **info: Any) -> dict[str, Any]:
    return {"verdict": "differs", "detail": detail, "max_abs_diff": None,
            "max_rel_diff": None, "tolerance": None, "where": where, **info}


def run(m: Modules, req: dict[str, Any]) -> dict[str, Any]:
    """Run one probe. For a fix whose rewrite fails under Keras 3, the original is tried there
    too: when it fails as well, other findings in the construct stand in the way, and the fix
    itself can be neither proved nor blamed."""
    result = _guarded(m, req)
    before, after = req["before"], req["after"]
    is_fix = (before["source"], before["entry"]) != (after["source"], after["entry"])
    if is_fix and _fails_in_k3(result):
        baseline = _guarded(m, {**req, "after": {**before, "legacy": False}})
        if _fails_in_k3(baseline):
            return _unverifiable(
                "Keras 3 cannot run this construct before or after the fix "
                f"({result['detail']}); the other findings in it come first"
            )
    return result


def _fails_in_k3(result: dict[str, Any]) -> bool:
    detail = str(result.get("detail", ""))
    return result["verdict"] == "differs" and (
        result.get("where") in ("construction", "call", "simulated fit")
        or "Keras 3 raises" in detail or "raises under Keras 3" in detail
    )


def _guarded(m: Modules, req: dict[str, Any]) -> dict[str, Any]:
    try:
        return _run(m, req)
    except ProbeFailed as exc:
        return _unverifiable(str(exc))
    except Exception as exc:  # noqa: BLE001 - user code may raise anything
        return _unverifiable(f"the probe failed: {_error(exc)}")
    finally:
        for km in (m.k2, m.k3):
            try:
                km.backend.clear_session()
            except Exception:  # noqa: BLE001 - best effort between probes
                pass


def _run(m: Modules, req: dict[str, Any]) -> dict[str, Any]:
    before, after = req["before"], req["after"]
    _seed(m)
    try:
        ns2 = sandbox.run_unit("k2", before["source"], before["legacy"])
        make2: Callable[[], Any] = lambda: sandbox.build(ns2, before["entry"])  # noqa: E731
        obj2 = make2()
    except Exception as exc:  # noqa: BLE001 - the original must run for a comparison to exist
        hint = ""
        if isinstance(exc, TypeError) and "argument" in str(exc):
            hint = " (give constructor arguments with a `# kmigrate: init=(...)` comment on the class)"
        return _unverifiable(f"the original does not run under Keras 2: {_error(exc)}{hint}")
    _seed(m)
    try:
        ns3 = sandbox.run_unit("k3", after["source"], after["legacy"])
        make3: Callable[[], Any] = lambda: sandbox.build(ns3, after["entry"])  # noqa: E731
        obj3 = make3()
    except SyntaxError as exc:  # the cut-out rewrite, not Keras 3, is at fault
        return _unverifiable(f"the rewrite could not be cut out of its module: {_error(exc)}")
    except Exception as exc:  # noqa: BLE001 - failing under Keras 3 is a behaviour difference
        return _differs("construction", f"runs under Keras 2, raises under Keras 3: {_error(exc)}")
    kind2, kind3 = kind_of(obj2, m.k2), kind_of(obj3, m.k3)
    if kind2.startswith("unsupported"):
        return _unverifiable(f"no probe for this kind of object: {kind2}")
    if kind2 != kind3:
        return _differs("construction", f"a {kind2} under Keras 2, a {kind3} under Keras 3")
    tol = req["tolerances"]["trajectory" if kind2 in ("optimizer", "schedule") else
                            "layer" if kind2 == "layer" else "value"]
    ledger = Ledger(atol=float(tol[0]), rtol=float(tol[1]))
    shapes = req["shapes"]
    tf = m.tf
    if kind2 == "layer":
        info = probe_layer.run(tf, make2, make3, shapes, ledger)
    elif kind2 == "optimizer":
        info = probe_values.optimizer(tf, m.k3, obj2, obj3, int(req.get("steps", 20)), ledger)
    elif kind2 == "schedule":
        info = probe_values.schedule(obj2, obj3, ledger)
    elif kind2 == "callback":
        info = probe_callback.run(obj2, obj3, ledger, m.k2, m.k3)
    elif kind2 == "loss":
        info = probe_values.loss(tf, obj2, obj3, ledger)
    elif kind2 == "metric":
        info = probe_values.metric(tf, make2, obj2, obj3, ledger)
    elif kind2 == "regularizer":
        info = probe_values.regularizer(tf, obj2, obj3, ledger)
    else:
        info = probe_values.function(tf, obj2, obj3, shapes, ledger)
    subject = f"{info['kind']} on {info.get('input', '?')}"
    return {**ledger.verdict(subject), "kind": info["kind"], "shape": info.get("shape")}
