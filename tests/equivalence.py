"""Run code snippets under Keras 2 (tf_keras) or Keras 3 (keras) in long-lived worker processes.

Tests of fixes use this to run the code before a fix under Keras 2 and after it under Keras 3
and compare the numbers. A snippet is executed with ``exec``; it must bind ``RESULT`` to
something JSON-serialisable (numpy arrays and scalars are converted with ``tolist()``).

In the ``k2`` worker ``TF_USE_LEGACY_KERAS=1`` is set, so ``tf.keras`` is tf_keras, and the
name ``keras`` (``import keras``, ``from keras.x import y``) is aliased to ``tf_keras``: the
snippet runs as Keras 2 code whatever spelling it uses. In the ``k3`` worker everything is
Keras 3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

_WORKER = r'''
import importlib, importlib.abc, importlib.util, io, json, os, sys, traceback, contextlib
MODE = sys.argv[1]
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_USE_LEGACY_KERAS"] = "1" if MODE == "k2" else "0"
if MODE == "k2":
    import tf_keras

    class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path, target=None):
            if name == "keras" or name.startswith("keras."):
                return importlib.util.spec_from_loader(name, self)
            return None
        def create_module(self, spec):
            return importlib.import_module("tf_keras" + spec.name[len("keras"):])
        def exec_module(self, module):
            pass

    sys.modules.pop("keras", None)
    sys.meta_path.insert(0, _Alias())
import numpy as np
import tensorflow as tf
import keras
_ = tf.keras.layers.Dense  # resolve the lazy tf.keras now
def _plain(x):
    if hasattr(x, "numpy"):
        x = x.numpy()
    if isinstance(x, np.ndarray) or isinstance(x, np.generic):
        return x.tolist()
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x
out = sys.stdout
sys.stdout = sys.stderr
out.write(json.dumps({"ready": keras.__version__}) + "\n"); out.flush()
for line in sys.stdin:
    code = json.loads(line)["code"]
    ns = {"__name__": "__snippet__"}
    try:
        exec(compile(code, "<snippet>", "exec"), ns)
        reply = {"ok": True, "result": _plain(ns.get("RESULT"))}
    except BaseException as exc:
        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    out.write(json.dumps(reply) + "\n"); out.flush()
'''


class SnippetError(RuntimeError):
    pass


class KerasWorker:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        env = dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        ready = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not ready:
            raise SnippetError(f"{mode} worker failed to start")
        self.version = json.loads(ready)["ready"]

    def run(self, code: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"code": textwrap.dedent(code)}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SnippetError(f"{self.mode} worker died")
        reply = json.loads(line)
        if not reply["ok"]:
            raise SnippetError(f"[{self.mode}] {reply['error']}\n{reply['trace']}")
        return reply["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def have_verify_extra() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "tf_keras", "keras"))


class Runner:
    """Both workers, started lazily, shared by a whole test session."""

    def __init__(self) -> None:
        self._workers: dict[str, KerasWorker] = {}

    def run(self, mode: str, code: str) -> Any:
        if mode not in self._workers:
            self._workers[mode] = KerasWorker(mode)
        return self._workers[mode].run(code)

    def k2(self, code: str) -> Any:
        return self.run("k2", code)

    def k3(self, code: str) -> Any:
        return self.run("k3", code)

    def close(self) -> None:
        for w in self._workers.values():
            w.close()
