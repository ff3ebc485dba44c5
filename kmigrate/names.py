"""Import tracking: every spelling of a Keras 2 name maps to one canonical ``keras.*`` name.

This module is the only place that knows how Keras can be imported. It scans the import
statements and simple assignments of a module once (without descending into expressions)
and then resolves ``Name``/``Attribute`` chains against those bindings.  This is an order of
magnitude cheaper than libcst's ``QualifiedNameProvider`` and is all the rules need.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property, lru_cache

import libcst as cst

# Longest first: ``tensorflow.python.keras`` must win over ``tensorflow``.
KERAS_ORIGINS: tuple[str, ...] = (
    "tensorflow.compat.v2.keras",
    "tensorflow.compat.v1.keras",
    "tensorflow.python.keras",
    "tensorflow.keras",
    "tf_keras",
    "keras",
)
# Modules that expose Keras as their ``.keras`` attribute.
KERAS_PARENTS: tuple[str, ...] = ("tensorflow.compat.v2", "tensorflow.compat.v1", "tensorflow")
# Public names of the small Keras modules, to tell which of several ``from keras.X import *``
# a bare name comes from (``from keras.models import *`` + ``from keras.layers import *`` is the
# usual pair); a name none of these lists holds comes from a star module not listed here.
_STAR_MEMBERS: dict[str, frozenset[str]] = {
    "keras.models": frozenset({
        "Model", "Sequential", "load_model", "save_model", "model_from_json", "model_from_yaml",
        "model_from_config", "clone_model"}),
    "keras.optimizers": frozenset({
        "Optimizer", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam", "Ftrl",
        "AdamW", "Lion", "schedules", "legacy"}),
    "keras.callbacks": frozenset({
        "Callback", "CallbackList", "BaseLogger", "History", "ProgbarLogger", "ModelCheckpoint",
        "EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler", "TensorBoard", "CSVLogger",
        "LambdaCallback", "TerminateOnNaN", "RemoteMonitor", "BackupAndRestore"}),
}


# Cached: checkers ask for the origin of the same few names at every reference.
@lru_cache(maxsize=8192)
def keras_origin(raw: str) -> str | None:
    for origin in KERAS_ORIGINS:
        if raw == origin or raw.startswith(origin + "."):
            return origin
    return None


_ATTRIBUTE = cst.Attribute
_NAME = cst.Name


@lru_cache(maxsize=8192)
def canonical(raw: str) -> str:
    """``tensorflow.keras.layers.Dense`` -> ``keras.layers.Dense``; non-Keras names unchanged."""
    origin = keras_origin(raw)
    if origin is None:
        return raw
    return "keras" + raw[len(origin) :]


def dotted(node: cst.BaseExpression) -> str | None:
    """The source spelling of a pure Name/Attribute chain, else None."""
    parts: list[str] = []
    while type(node) is _ATTRIBUTE:  # not isinstance(): see Names.raw
        parts.append(node.attr.value)  # type: ignore[attr-defined]
        node = node.value  # type: ignore[attr-defined]
    if type(node) is _NAME:
        parts.append(node.value)  # type: ignore[attr-defined]
        return ".".join(reversed(parts))
    return None


def _module_name(node: cst.BaseExpression | None) -> str:
    if node is None:
        return ""
    name = dotted(node)
    return name or ""


@dataclass(frozen=True)
class Binding:
    """``name`` refers to ``raw`` (a fully qualified name as imported).

    ``instance`` is True when the name holds the result of calling ``raw`` (``opt = Adam()``).
    """

    raw: str
    instance: bool = False

    @property
    def canonical(self) -> str:
        return canonical(self.raw)


_AMBIGUOUS = Binding("<ambiguous>")


class _Collector:
    """Collects imports and simple assignments, statement by statement (never expressions).

    Node classes are compared with ``type(x) is``: libcst nodes are ABCs, whose isinstance()
    costs a Python-level call when it is False, and every statement of every file comes here.
    The classes compared have no subclasses.
    """

    def __init__(self) -> None:
        self.events: dict[str, list[Binding | None]] = defaultdict(list)
        self.assignments: list[tuple[str, cst.BaseExpression]] = []
        self.star_modules: list[str] = []

    def statements(self, body: object) -> None:
        for stmt in body:  # type: ignore[attr-defined]
            if type(stmt) is cst.SimpleStatementLine:
                for small in stmt.body:
                    self.small(small)
            else:
                self.compound(stmt)

    def block(self, node: object) -> None:
        kind = type(node)
        if kind is cst.IndentedBlock:
            self.statements(node.body)  # type: ignore[attr-defined]
        elif kind is cst.SimpleStatementSuite:
            for small in node.body:
                self.small(small)

    def compound(self, stmt: cst.CSTNode) -> None:
        kind = type(stmt)
        if kind is cst.FunctionDef or kind is cst.ClassDef:
            self.events[stmt.name.value].append(None)  # type: ignore[attr-defined]
        elif kind is cst.For:
            for name in _target_names(stmt.target):  # type: ignore[attr-defined]
                self.events[name].append(None)
        elif kind is cst.With:
            for item in stmt.items:
                if item.asname is not None:
                    for name in _target_names(item.asname.name):
                        self.events[name].append(None)
        self.block(getattr(stmt, "body", None))
        for handler in getattr(stmt, "handlers", ()):
            self.block(handler.body)
        orelse = getattr(stmt, "orelse", None)
        while orelse is not None:
            if type(orelse) is cst.If:
                self.block(orelse.body)
                orelse = orelse.orelse
            else:
                self.block(orelse.body)
                orelse = None
        final = getattr(stmt, "finalbody", None)
        if final is not None:
            self.block(final.body)
        for case in getattr(stmt, "cases", ()):
            self.block(case.body)

    def small(self, node: cst.BaseSmallStatement) -> None:
        kind = type(node)
        if kind is cst.Import:
            for alias in node.names:
                full = _module_name(alias.name)
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    self.events[alias.asname.name.value].append(Binding(full))
                else:
                    top = full.split(".")[0]
                    self.events[top].append(Binding(top))
        elif kind is cst.ImportFrom:
            if node.relative:
                return
            module = _module_name(node.module)
            if isinstance(node.names, cst.ImportStar):
                self.star_modules.append(module)
                return
            for alias in node.names:
                name = _module_name(alias.name)
                local = name
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    local = alias.asname.name.value
                self.events[local].append(Binding(f"{module}.{name}"))
        elif kind is cst.Assign:
            for target in node.targets:
                if type(target.target) is cst.Name:
                    self.assignments.append((target.target.value, node.value))
                else:
                    for name in _target_names(target.target):
                        self.events[name].append(None)
        elif kind is cst.AnnAssign:
            if type(node.target) is cst.Name and node.value is not None:
                self.assignments.append((node.target.value, node.value))
        elif kind is cst.AugAssign:
            for name in _target_names(node.target):
                self.events[name].append(None)


def _target_names(node: cst.BaseExpression) -> list[str]:
    kind = type(node)
    if kind is cst.Name:
        return [node.value]  # type: ignore[attr-defined]
    if kind is cst.Tuple or kind is cst.List:
        out: list[str] = []
        for el in node.elements:
            out.extend(_target_names(el.value))
        return out
    return []


class Names:
    """Resolved bindings of one module."""

    def __init__(self, module: cst.Module) -> None:
        collector = _Collector()
        collector.statements(module.body)
        self._star_modules = [m for m in collector.star_modules if keras_origin(m)]
        self._bindings: dict[str, Binding] = {}
        # id(Attribute) -> (the node, its raw name): several checkers resolve each chain in
        # turn. The node is kept so that its id stays its own.
        self._chains: dict[int, tuple[cst.BaseExpression, str | None]] = {}
        events = collector.events
        # Imports first, so that assignments can refer to imported names.
        self._settle(events)
        # Assignments may chain (``K = keras.backend``; ``Adam = K...``): iterate to a fixpoint.
        assigned: dict[str, list[cst.BaseExpression]] = defaultdict(list)
        for name, value in collector.assignments:
            assigned[name].append(value)
        for _ in range(3):
            changed = False
            for name, values in assigned.items():
                resolved: list[Binding | None] = [self._binding_for_value(v) for v in values]
                merged = self._merge(events.get(name, []) + resolved)
                if merged != self._bindings.get(name):
                    changed = True
                    if merged is None:
                        self._bindings.pop(name, None)
                    else:
                        self._bindings[name] = merged
            if not changed:
                break
        self.origin = self._dominant_origin()

    def _settle(self, events: dict[str, list[Binding | None]]) -> None:
        for name, evs in events.items():
            merged = self._merge(evs)
            if merged is not None:
                self._bindings[name] = merged

    @staticmethod
    def _merge(evs: list[Binding | None]) -> Binding | None:
        if not evs or any(e is None for e in evs):
            return None
        first = evs[0]
        assert first is not None
        for e in evs[1:]:
            assert e is not None
            if e.canonical != first.canonical or e.instance != first.instance:
                return None
        return first

    def _binding_for_value(self, value: cst.BaseExpression) -> Binding | None:
        if type(value) is cst.Call:
            callee = self._settling_raw(value.func)
            if callee is not None and "<" not in callee:
                return Binding(callee, instance=True)
            return None
        raw = self._settling_raw(value)
        if raw is None:
            return None
        return Binding(raw)

    def _dominant_origin(self) -> str:
        counts: dict[str, float] = defaultdict(float)
        for b in self._bindings.values():
            origin = keras_origin(b.raw)
            if origin is not None:
                counts[origin] += 1
            elif b.raw in KERAS_PARENTS:
                # Half a vote: `import tensorflow as tf` beside `import keras.backend as K` is
                # there for tf ops and must not tie with the file's real Keras import.
                counts[b.raw + ".keras"] += 0.5
        if not counts:
            return "keras"
        return max(counts, key=lambda o: (counts[o], o == "tensorflow.keras"))

    # ----------------------------------------------------------------- queries
    @property
    def bindings(self) -> dict[str, Binding]:
        return dict(self._bindings)

    @cached_property  # asked at many references; the bindings are fixed once built
    def imports_keras(self) -> bool:
        return any(
            keras_origin(b.raw) is not None or b.raw in KERAS_PARENTS
            for b in self._bindings.values()
        ) or bool(self._star_modules)

    def raw(self, node: cst.BaseExpression) -> str | None:
        """Fully qualified (as imported) name of a Name/Attribute chain, else None."""
        # `type(...) is`: libcst nodes are ABCs, whose isinstance() costs a Python-level call,
        # and this runs for every name in every file. Attribute and Name have no subclasses.
        kind = type(node)
        if kind is _NAME:
            value = node.value  # type: ignore[attr-defined]
            binding = self._bindings.get(value)
            if binding is None:
                return f"{self._star_module_for(value)}.{value}" if self._star_modules else None
            return None if binding.instance else binding.raw
        if kind is not _ATTRIBUTE:
            return None
        known = self._chains.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        raw = self._chain(node)  # type: ignore[arg-type]
        self._chains[id(node)] = (node, raw)
        return raw

    def _settling_raw(self, node: cst.BaseExpression) -> str | None:
        """:meth:`raw` while the bindings still change: nothing is remembered."""
        return self._chain(node) if type(node) is _ATTRIBUTE else self.raw(node)  # type: ignore[arg-type]

    def _chain(self, node: cst.Attribute) -> str | None:
        parts: list[str] = []
        while type(node) is _ATTRIBUTE:
            parts.append(node.attr.value)
            node = node.value  # type: ignore[assignment]
        if type(node) is not _NAME:
            return None
        binding = self._bindings.get(node.value)  # type: ignore[attr-defined]
        if binding is None or binding.instance:
            return None  # a star import binds bare names only
        return ".".join([binding.raw, *reversed(parts)])

    def _star_module_for(self, name: str) -> str:
        modules = self._star_modules
        if len(modules) > 1:
            for module in modules:
                if name in _STAR_MEMBERS.get(canonical(module), ()):
                    return module
            rest = [m for m in modules if canonical(m) not in _STAR_MEMBERS]
            if rest:
                return rest[0]
        return modules[0]

    def resolve(self, node: cst.BaseExpression) -> str | None:
        """Canonical name (``keras.optimizers.Adam``) of a Name/Attribute chain, else None."""
        raw = self.raw(node)
        return canonical(raw) if raw is not None else None

    def resolve_keras(self, node: cst.BaseExpression) -> str | None:
        """Like :meth:`resolve`, but only for names that come from a Keras package."""
        raw = self.raw(node)
        if raw is None or keras_origin(raw) is None:
            return None
        return canonical(raw)

    def origin_of(self, node: cst.BaseExpression) -> str | None:
        raw = self.raw(node)
        return keras_origin(raw) if raw is not None else None

    def instance_of(self, node: cst.BaseExpression) -> str | None:
        """For ``opt`` bound by ``opt = keras.optimizers.Adam(...)``: ``keras.optimizers.Adam``."""
        if isinstance(node, cst.Name):
            binding = self._bindings.get(node.value)
            if binding is not None and binding.instance:
                return binding.canonical
        return None

    def spell(self, target: str, origin: str | None = None) -> str | None:
        """An expression that reaches canonical ``target`` with this module's bindings.

        Keras names are spelled through ``origin`` (default: the module's dominant origin),
        so a ``tf.keras`` module keeps saying ``tf.keras``. Returns None when no binding
        reaches the name; the caller then adds an import.
        """
        origin = origin or self.origin
        if target == "keras" or target.startswith("keras."):
            raw_target = origin + target[len("keras") :]
        else:
            raw_target = target
        best: tuple[int, str] | None = None
        for name, binding in self._bindings.items():
            if binding.instance:
                continue
            raw = binding.raw
            if raw_target == raw or raw_target.startswith(raw + "."):
                spelled = name + raw_target[len(raw) :]
                score = len(raw)
                if best is None or score > best[0] or (score == best[0] and len(spelled) < len(best[1])):
                    best = (score, spelled)
        return best[1] if best else None

    def spell_like(self, node: cst.BaseExpression, target: str) -> str | None:
        """Spell canonical ``target`` the way ``node`` (a Name/Attribute chain) spells its name.

        ``tf.keras.optimizers.legacy.Adam`` with target ``keras.optimizers.Adam`` gives
        ``tf.keras.optimizers.Adam``: the user's root name and Keras flavour are kept.
        """
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        raw = self.raw(node)
        if not isinstance(root, cst.Name) or raw is None:
            return self.spell(target)
        binding = self._bindings.get(root.value)
        origin = keras_origin(raw)
        if binding is None or binding.instance or origin is None:
            return self.spell(target)
        new_raw = origin + target[len("keras") :] if target.startswith("keras") else target
        if new_raw == binding.raw:
            return root.value
        if new_raw.startswith(binding.raw + "."):
            return root.value + new_raw[len(binding.raw) :]
        return self.spell(target, origin)

    def import_for(self, target: str, origin: str | None = None) -> tuple[str, str]:
        """(import statement, local name) that binds canonical ``target``."""
        origin = origin or self.origin
        raw_target = origin + target[len("keras") :] if target.startswith("keras") else target
        module, _, name = raw_target.rpartition(".")
        if not module:
            return f"import {name}", name
        return f"from {module} import {name}", name
