"""Which classes of a module are Keras ``Layer``/``Model``/``Metric`` subclasses, and which
method of one of them a node is in.

Several rules only apply inside custom layers (``call`` reading ``**kwargs``, ``tf.Variable``
attributes, ``add_weight`` signatures, ``build(input_shape)``). The class table is computed
once per checked file, by one walk over statements (never into expressions), and shared by
every checker through :func:`keras_classes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from kmigrate.engine import Context

Kind = Literal["layer", "model", "metric"]

_MODELS = frozenset(
    {
        "keras.Model",
        "keras.Sequential",
        "keras.models.Model",
        "keras.models.Sequential",
        "keras.engine.training.Model",
        "keras.engine.sequential.Sequential",
        "keras.engine.functional.Functional",
    }
)
_LAYERS = frozenset({"keras.engine.base_layer.Layer", "keras.layers.Layer"})


def keras_kind(name: str | None) -> Kind | None:
    """The kind of class a canonical Keras name is, when it can be subclassed as one."""
    if name is None:
        return None
    if name in _MODELS:
        return "model"
    if name in _LAYERS:
        return "layer"
    last = name.rpartition(".")[2]
    if not last[:1].isupper():
        return None  # functions (keras.layers.add, keras.metrics.mae) are not bases
    if name.startswith("keras.layers."):
        return "layer"
    if name.startswith("keras.metrics."):
        return "metric"
    return None


@dataclass(frozen=True)
class KerasClass:
    """A class definition whose bases resolve to a Keras Layer, Model or Metric."""

    node: cst.ClassDef
    kind: Kind
    keras_base: str  # canonical name of the nearest Keras base (``keras.layers.Dense``)
    local_bases: tuple[str, ...]  # names of same-module Keras classes it derives from
    direct_keras_bases: tuple[str, ...]  # canonical names of its own Keras bases

    @property
    def name(self) -> str:
        return self.node.name.value

    def own_method(self, name: str) -> cst.FunctionDef | None:
        for stmt in _body(self.node):
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                return stmt
        return None


@dataclass(frozen=True)
class Method:
    """The method a node is in: ``func`` defined directly in the body of ``cls``."""

    cls: KerasClass
    func: cst.FunctionDef
    nested: bool  # the node is inside a function nested in the method

    @property
    def name(self) -> str:
        return self.func.name.value

    @property
    def self_name(self) -> str | None:
        return first_param(self.func)


def first_param(func: cst.FunctionDef) -> str | None:
    params = func.params
    if params.posonly_params:
        return params.posonly_params[0].name.value
    if params.params:
        return params.params[0].name.value
    return None


def _body(node: cst.ClassDef | cst.FunctionDef) -> tuple[cst.BaseStatement, ...]:
    body = node.body
    if isinstance(body, cst.IndentedBlock):
        return tuple(body.body)
    return ()


_BLOCKS = frozenset({cst.IndentedBlock, cst.Else, cst.Finally})


def _class_defs(statements: Sequence[cst.CSTNode], out: list[cst.ClassDef]) -> None:
    """Every ClassDef among ``statements`` and the blocks nested in them, in source order.

    Walks statements by hand (simple statements hold no classes): a libcst visitor would also
    descend into every expression. Node classes are tested with ``type(...)``, not
    ``isinstance``, which is slow on libcst's ABC classes (all the classes here are final).
    """
    for stmt in statements:
        if type(stmt) is cst.SimpleStatementLine:
            continue
        if type(stmt) is cst.ClassDef:
            out.append(stmt)
        for attr in ("body", "orelse", "finalbody"):
            child = getattr(stmt, attr, None)
            if type(child) in _BLOCKS:
                child = child.body  # type: ignore[union-attr]
            if type(child) is cst.IndentedBlock:
                child = child.body
            if type(child) is cst.If:
                _class_defs((child,), out)
            elif isinstance(child, (tuple, list)):
                _class_defs(child, out)
        for attr in ("handlers", "cases"):
            for part in getattr(stmt, attr, ()) or ():
                body = part.body
                _class_defs(body.body if type(body) is cst.IndentedBlock else (), out)


class KerasClasses:
    """The Keras classes of one module, by node and by name."""

    def __init__(self, ctx: Context) -> None:
        found: list[cst.ClassDef] = []
        _class_defs(ctx.module.body, found)
        names = ctx.names
        defined = {c.name.value: c for c in found}
        own: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for cls in found:
            keras_bases: list[str] = []
            local: list[str] = []
            for base in cls.bases:
                if base.keyword is not None or base.star:
                    continue
                resolved = names.resolve_keras(base.value)
                if keras_kind(resolved) is not None:
                    assert resolved is not None
                    keras_bases.append(resolved)
                elif isinstance(base.value, cst.Name) and base.value.value in defined:
                    local.append(base.value.value)
            own[cls.name.value] = (tuple(keras_bases), tuple(local))
        # Same-module inheritance chains settle in a few rounds; cycles simply never resolve.
        kinds: dict[str, tuple[Kind, str]] = {}
        for _ in range(len(own) + 1):
            changed = False
            for name, (kbases, lbases) in own.items():
                if name in kinds:
                    continue
                settled = _first_kind(kbases, lbases, kinds)
                if settled is not None:
                    kinds[name] = settled
                    changed = True
            if not changed:
                break
        self._by_node: dict[int, KerasClass] = {}
        self._by_name: dict[str, KerasClass] = {}
        for cls in found:
            name = cls.name.value
            if name not in kinds:
                continue
            kind, keras_base = kinds[name]
            kbases, lbases = own[name]
            info = KerasClass(cls, kind, keras_base, tuple(b for b in lbases if b in kinds), kbases)
            self._by_node[id(cls)] = info
            if defined.get(name) is cls:
                self._by_name[name] = info

    def __bool__(self) -> bool:
        return bool(self._by_node)

    def of(self, node: cst.ClassDef) -> KerasClass | None:
        return self._by_node.get(id(node))

    def named(self, name: str) -> KerasClass | None:
        return self._by_name.get(name)

    def lineage(self, cls: KerasClass) -> Iterator[KerasClass]:
        """``cls`` and its same-module Keras bases, nearest first (each once)."""
        seen: set[str] = set()
        todo = [cls]
        while todo:
            current = todo.pop(0)
            if current.name in seen:
                continue
            seen.add(current.name)
            yield current
            for base in current.local_bases:
                info = self._by_name.get(base)
                if info is not None:
                    todo.append(info)

    def find_method(self, cls: KerasClass, name: str) -> cst.FunctionDef | None:
        """``name`` defined by ``cls`` or by one of its same-module bases."""
        for c in self.lineage(cls):
            found = c.own_method(name)
            if found is not None:
                return found
        return None

    def enclosing_method(self, ctx: Context) -> Method | None:
        """The method of a Keras class that the node being visited is in."""
        ancestors = ctx.ancestors
        nested = False
        for i in range(len(ancestors) - 1, 1, -1):
            node = ancestors[i]
            if type(node) is cst.ClassDef:
                return None
            if type(node) is not cst.FunctionDef:
                continue
            owner = ancestors[i - 2]
            if type(ancestors[i - 1]) is cst.IndentedBlock and type(owner) is cst.ClassDef:
                info = self.of(owner)
                return Method(info, node, nested) if info is not None else None
            nested = True
        return None


def _first_kind(
    keras_bases: tuple[str, ...], local: tuple[str, ...], known: dict[str, tuple[Kind, str]]
) -> tuple[Kind, str] | None:
    for base in keras_bases:
        kind = keras_kind(base)
        if kind is not None:
            return kind, base
    for name in local:
        if name in known:
            return known[name]
    return None


def keras_classes(ctx: Context) -> KerasClasses:
    """The Keras classes of the module ``ctx`` checks (computed once per file)."""
    found: KerasClasses | None = getattr(ctx, "_keras_classes", None)
    if found is None:
        found = KerasClasses(ctx)
        setattr(ctx, "_keras_classes", found)
    return found


def is_self_attr(node: cst.BaseExpression, self_name: str | None, attr: str | None = None) -> bool:
    """``self.<attr>`` (any attribute when ``attr`` is None)."""
    return (
        self_name is not None
        and type(node) is cst.Attribute
        and type(node.value) is cst.Name
        and node.value.value == self_name
        and (attr is None or node.attr.value == attr)
    )
