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

from kmigrate.names import KERAS_ORIGINS as KERAS_PREFIXES  # every spelling of Keras
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
    parts = [p for p in rest.split(".") if p]
    obj: Any = root
    for i, part in enumerate(parts):
        try:
            obj = getattr(obj, part)
            continue
        except AttributeError:
            pass
        # A submodule that is not an attribute (``keras.src.x``), or a Keras 2 private module
        # (``keras.engine.base_layer``) that now lives under ``src``: import it for real.
        for real in (".".join([root_name, *parts[: i + 1]]), ".".join([root_name, "src", *parts[: i + 1]])):
            try:
                obj = importlib.import_module(real)
                break
            except ImportError:
                continue
        else:
            raise ImportError(f"no module named {'.'.join([root_name, *parts[: i + 1]])!r}")
    return obj


def _with_submodules(kmod: types.ModuleType, root_name: str, rest: str, fromlist: Any) -> Any:
    """``from keras.layers import core``: names that are private submodules, not attributes,
    are added on a proxy (the real module is never modified)."""
    obj = _walk(kmod, root_name, rest)
    missing = {}
    for name in fromlist:
        if name != "*" and not hasattr(obj, name):
            try:
                missing[name] = _walk(kmod, root_name, f"{rest}.{name}")
            except ImportError:
                continue  # Python raises the usual "cannot import name"
    return ModuleProxy(getattr(obj, "__name__", root_name), obj, missing) if missing else obj


def tf_proxy_for(tf: types.ModuleType, kmod: types.ModuleType) -> types.ModuleType:
    """``tensorflow`` whose ``keras``, ``python.keras`` and ``compat.v1/v2.keras`` are ``kmod``."""
    compat = ModuleProxy("tensorflow.compat", tf.compat, {
        v: ModuleProxy(f"tensorflow.compat.{v}", getattr(tf.compat, v), {"keras": kmod}) for v in ("v1", "v2")
    })
    python = ModuleProxy("tensorflow.python", importlib.import_module("tensorflow.python"), {"keras": kmod})
    return ModuleProxy("tensorflow", tf, {"keras": kmod, "compat": compat, "python": python})


def make_import(kmod: types.ModuleType, tf_proxy: types.ModuleType) -> Any:
    real_import = builtins.__import__
    root_name = "tf_keras" if kmod.__name__.startswith("tf_keras") else "keras"

    def _import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level == 0:
            for prefix in KERAS_PREFIXES:
                if name == prefix or name.startswith(prefix + "."):
                    rest = name[len(prefix) :]
                    if fromlist:
                        return _with_submodules(kmod, root_name, rest, fromlist)
                    return tf_proxy if name.startswith("tensorflow") else kmod
            if name == "tensorflow" or (name.startswith("tensorflow.") and not fromlist):
                return tf_proxy
            if name.startswith("tensorflow."):
                real_import(name, globals, locals, fromlist, level)
                obj: Any = tf_proxy
                for part in name.split(".")[1:]:
                    obj = getattr(obj, part)
                return obj
        return real_import(name, globals, locals, fromlist, level)

    return _import


def namespace(side: str, legacy_optimizers: bool = False) -> dict[str, Any]:
    """A fresh globals dict for one unit on ``side`` ("k2" or "k3")."""
    tf = importlib.import_module("tensorflow")
    kmod = keras_for(side, legacy_optimizers)
    tf_proxy = tf_proxy_for(tf, kmod)
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
