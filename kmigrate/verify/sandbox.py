"""Worker side: run a unit of user code with every Keras spelling bound to one Keras.

The Keras 2 side sees ``tf_keras`` behind ``tf.keras``, ``tensorflow.keras``, ``keras`` and
``tf_keras``; the Keras 3 side sees ``keras`` 3 behind all of them. Imports are redirected by
a private ``__import__`` in the unit's builtins, so the real ``sys.modules`` is never touched.
Imported only inside the worker process.
"""

from __future__ import annotations

import builtins
import importlib
import types
from typing import Any

KERAS_PREFIXES = (
    "tensorflow.compat.v2.keras",
    "tensorflow.compat.v1.keras",
    "tensorflow.python.keras",
    "tensorflow.keras",
    "tf_keras",
    "keras",
)
LEGACY_NAMES = ("SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl")


class ModuleProxy(types.ModuleType):
    """A module that answers from ``overrides`` first, then from ``target``."""

    def __init__(self, name: str, target: types.ModuleType, overrides: dict[str, Any]) -> None:
        super().__init__(name)
        self.__dict__.update(overrides)
        self.__dict__["_kmigrate_target"] = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_kmigrate_target"], name)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self.__dict__["_kmigrate_target"])) | set(self.__dict__))


def keras_for(side: str, legacy_optimizers: bool) -> types.ModuleType:
    if side == "k3":
        return importlib.import_module("keras")
    k2 = importlib.import_module("tf_keras")
    if not legacy_optimizers:
        return k2
    legacy = k2.optimizers.legacy
    optimizers = ModuleProxy(
        "tf_keras.optimizers",
        k2.optimizers,
        {n: getattr(legacy, n) for n in LEGACY_NAMES if hasattr(legacy, n)},
    )
    return ModuleProxy("tf_keras", k2, {"optimizers": optimizers})


def _walk(root: types.ModuleType, root_name: str, rest: str) -> Any:
    obj: Any = root
    for i, part in enumerate(p for p in rest.split(".") if p):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            # A submodule that is not an attribute yet (``keras.src.x``): import it for real.
            real = ".".join([root_name, *rest.split(".")[: i + 1]])
            obj = importlib.import_module(real)
    return obj


def make_import(kmod: types.ModuleType, tf_proxy: types.ModuleType) -> Any:
    real_import = builtins.__import__
    root_name = "tf_keras" if kmod.__name__.startswith("tf_keras") else "keras"

    def _import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level == 0:
            for prefix in KERAS_PREFIXES:
                if name == prefix or name.startswith(prefix + "."):
                    rest = name[len(prefix) :]
                    if fromlist:
                        return _walk(kmod, root_name, rest)
                    return tf_proxy if name.startswith("tensorflow") else kmod
            if name == "tensorflow" or (name.startswith("tensorflow.") and not fromlist):
                return tf_proxy
        return real_import(name, globals, locals, fromlist, level)

    return _import


def namespace(side: str, legacy_optimizers: bool = False) -> dict[str, Any]:
    """A fresh globals dict for one unit on ``side`` ("k2" or "k3")."""
    tf = importlib.import_module("tensorflow")
    kmod = keras_for(side, legacy_optimizers)
    tf_proxy = ModuleProxy("tensorflow", tf, {"keras": kmod})
    builtins_ns = dict(vars(builtins))
    builtins_ns["__import__"] = make_import(kmod, tf_proxy)
    return {"__name__": f"kmigrate_probe_{side}", "__builtins__": builtins_ns}


def run_unit(side: str, source: str, legacy_optimizers: bool = False) -> dict[str, Any]:
    ns = namespace(side, legacy_optimizers)
    exec(compile(source, f"<kmigrate {side} unit>", "exec"), ns)
    return ns


def build(ns: dict[str, Any], entry: str) -> Any:
    """A fresh object from the unit: evaluate ``entry`` again (new layer, new optimizer...)."""
    return eval(compile(entry, "<kmigrate entry>", "eval"), ns)
