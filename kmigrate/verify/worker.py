"""The verification worker: ``python -m kmigrate.verify.worker``.

Imports TensorFlow, tf_keras and keras once, then serves probe requests, one JSON object per
line on a private copy of stdin, one JSON answer per line on a private copy of stdout. File
descriptors 0 and 1 themselves point at /dev/null and stderr, so that nothing user code reads
or prints (nor TensorFlow's chatter) can corrupt the protocol.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from typing import Any, TextIO


def _protocol_streams() -> tuple[TextIO, TextIO]:
    """Private copies of stdin/stdout for the protocol; fds 0 and 1 go to /dev/null and stderr,
    so that user code that reads input or prints cannot touch the protocol."""
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the worker
    sys.stdout = sys.stderr
    return requests, answers


def _send(stream: TextIO, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message, allow_nan=False, default=str) + "\n")
    stream.flush()


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: report them as strings."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _warm_up(modules: Any) -> None:
    """Pay the one-off costs (first eager op, first layer, first optimizer step) at start-up."""
    from kmigrate.verify import dispatch

    unit = {"source": "import tensorflow as tf\n", "entry": "tf.keras.layers.Dense(2)", "legacy": False}
    req = {"before": unit, "after": unit, "shapes": [[2, 3]], "steps": 2,
           "tolerances": {"layer": [1e-5, 1e-5], "trajectory": [1e-4, 1e-4], "value": [1e-5, 1e-5]}}
    dispatch.run(modules, req)
    opt = {"source": "import tensorflow as tf\n", "entry": "tf.keras.optimizers.SGD(0.1, decay=0.1)", "legacy": True}
    dispatch.run(modules, {**req, "before": opt, "after": {**opt, "entry": "tf.keras.optimizers.SGD(0.1)", "legacy": False}})


def main() -> int:
    requests, proto = _protocol_streams()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.pop("TF_USE_LEGACY_KERAS", None)
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    try:
        from kmigrate.verify import dispatch

        modules = dispatch.Modules()
        modules.tf.get_logger().setLevel("ERROR")
        if os.environ.get("KMIGRATE_VERIFY_NO_WARMUP") != "1":
            _warm_up(modules)
    except BaseException as exc:  # noqa: BLE001 - report why verification is impossible
        _send(proto, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    _send(proto, {"ready": True, "versions": modules.versions(), "seconds": time.perf_counter() - start,
                  "cpu_seconds": time.process_time()})
    for line in requests:
        if not line.strip():
            continue
        req = json.loads(line)
        print("--- kmigrate probe ---", file=sys.stderr, flush=True)
        began, cpu = time.perf_counter(), time.process_time()
        result = dispatch.run(modules, req["probe"])
        result["seconds"] = time.perf_counter() - began
        result["cpu_seconds"] = time.process_time() - cpu
        _send(proto, {"id": req["id"], "result": _clean(result)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
