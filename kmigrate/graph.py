"""Which tensors of a module's Keras models carry a mask, and which models they end in.

A small abstract interpretation of functional and Sequential model code, shared by the masking
rules (catalogue 27, 28, 42, 61, 62). Values are layers, tensors (with the set of mask sources
that reach them), sequences of values, masks and models. Statements are walked in order; a
function body is walked when the function is first called (or at the end of the module), so a
``build_model()`` that returns a model is followed to the ``compile``/``fit`` calls made on its
result. The propagation table follows Keras 3's ``compute_mask`` (catalogue Appendix A):
``Embedding(mask_zero=True)`` and ``Masking`` create a mask; Dense, Dropout, TimeDistributed,
normalisation, attention (the query's mask) and merge layers keep it; an RNN keeps it only with
``return_sequences=True``; everything else (Lambda, raw tf/ops calls, pooling, unknown layers)
drops it. Unknown means "no mask": the rules built on this must stay silent when unsure.
"""

from __future__ import annotations

import builtins
import dataclasses
from dataclasses import dataclass, field
from typing import Union

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._nodes import EXPRESSIONS, NODES, SMALL_STATEMENTS, STATEMENTS, SUITES
from kmigrate.names import Names
from kmigrate.walk import walk

RNN_STATES: dict[str, int | None] = {
    "LSTM": 2, "GRU": 1, "SimpleRNN": 1, "RNN": None, "ConvLSTM1D": 2, "ConvLSTM2D": 2, "ConvLSTM3D": 2,
}
KEEP = frozenset({
    "Dense", "EinsumDense", "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "ActivityRegularization", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU",
    "Softmax", "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
    "TimeDistributed", "Identity", "Rescaling",
})
MERGE = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"})
MERGE_FUNCTIONS = frozenset(m.lower() for m in MERGE)
LIST_ATTENTION = frozenset({"Attention", "AdditiveAttention"})  # called on [query, value(, key)]
QUERY_ATTENTION = frozenset({"MultiHeadAttention", "GroupedQueryAttention"})  # (query, value)
MODELS = frozenset({"keras.Model", "keras.models.Model"})
SEQUENTIALS = frozenset({"keras.Sequential", "keras.models.Sequential"})
INPUTS = frozenset({"keras.Input", "keras.layers.Input"})
_CONSTRUCTORS = MODELS | SEQUENTIALS
_CONSTRUCTOR_NAMES = frozenset(n.rpartition(".")[2] for n in _CONSTRUCTORS)
# Calls that only look at a model or layer: passing one to them is not a use out of sight.
INSPECTING = frozenset({"keras.utils.plot_model", "keras.utils.model_to_dot", "keras.utils.print_summary"})
INSPECTING_BUILTINS = frozenset({"print", "repr", "str", "type", "id", "isinstance", "hasattr"})
_BUILTINS = frozenset(dir(builtins))
_SCOPED = frozenset({cst.Lambda, cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp})


@dataclass(eq=False)
class Layer:
    """A layer instance (one constructor call). Mutable: its uses are collected during the walk."""

    cls: str | None  # short Keras class name ("LSTM"); None for a non-Keras callable
    ctor: cst.Call
    binding: str | None = None  # the simple name or ``self.attr`` it is bound to
    calls: list[cst.Call] = field(default_factory=list)
    escaped: bool = False  # used other than by calling it: passed, stored, returned, read
    inner: Layer | None = None  # the layer a Bidirectional/TimeDistributed wraps

    def flag(self, name: str, default: bool = False) -> bool | None:
        """The literal bool of keyword ``name`` (``default`` if absent, None if not a literal)."""
        arg = _calls.keyword(self.ctor, name)
        return default if arg is None else literal_bool(arg.value)


@dataclass(frozen=True)
class MaskSource:
    """Where a mask comes from: ``kind`` is ``embedding``, ``masking`` or ``explicit``."""

    kind: str
    layer: Layer | None = None
    applied_to: str | None = None  # source text of the tensor the layer was applied to
    pad: int | float | None = None  # the padding value that is masked, when known
    applied_value: object = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class Tensor:
    masks: frozenset[MaskSource] = frozenset()
    layer: Layer | None = None


@dataclass(frozen=True)
class Seq:
    """A list/tuple of values (a layer's list input, ``return_state`` outputs, model outputs)."""

    items: tuple[Value, ...]
    open: bool = False  # more items of unknown structure follow (an ``RNN(cell)``'s states)


@dataclass(frozen=True)
class Mask:
    """The value of ``layer.compute_mask(x)``."""

    sources: frozenset[MaskSource]


@dataclass(frozen=True)
class Use:
    method: str
    call: cst.Call


@dataclass(eq=False)
class Model:
    kind: str  # "functional" | "sequential"
    ctor: cst.Call
    outputs: tuple[Value, ...] | None  # in output order; None: not statically known
    output_keys: tuple[str, ...] | None = None  # ``outputs={"a": ..., "b": ...}``
    bindings: set[str] = field(default_factory=set)
    uses: list[Use] = field(default_factory=list)
    escaped: bool = False  # referenced other than as ``model.attr`` (passed to unknown code)

    @property
    def masks(self) -> frozenset[MaskSource]:
        """Mask sources that reach any output."""
        out: frozenset[MaskSource] = frozenset()
        for value in self.outputs or ():
            out |= masks_of(value)
        return out

    def calls(self, *methods: str) -> list[cst.Call]:
        return [u.call for u in self.uses if u.method in methods]


@dataclass(frozen=True)
class LayerCall:
    """One application of a layer, with the masks reaching its (first) input."""

    layer: Layer
    call: cst.Call
    masks: frozenset[MaskSource]
    mask_text: str | None  # ``emb.compute_mask(ids)``: this input's mask, spelled here


@dataclass(eq=False)
class _Function:
    node: cst.FunctionDef
    env: Env
    started: bool = False
    returns: list[Value] = field(default_factory=list)

    @property
    def result(self) -> Value:
        first = self.returns[0] if self.returns else None
        return first if all(r is first for r in self.returns) else None


@dataclass(eq=False)
class _SelfRef:
    """``self`` inside a class: its attributes assigned in methods."""

    attrs: dict[str, Value] = field(default_factory=dict)
    assigned: dict[str, int] = field(default_factory=dict)


Value = Union[Layer, Tensor, Seq, Mask, Model, _Function, _SelfRef, None]


def masks_of(value: Value) -> frozenset[MaskSource]:
    if isinstance(value, Tensor):
        return value.masks
    if isinstance(value, Seq):
        out: frozenset[MaskSource] = frozenset()
        for item in value.items:
            out |= masks_of(item)
        return out
    return frozenset()


def literal_bool(node: cst.BaseExpression) -> bool | None:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    return None


def literal_int(node: cst.BaseExpression) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value.replace("_", ""), 0)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal_int(node.expression)
        return -inner if inner is not None else None
    return None


def literal_number(node: cst.BaseExpression) -> int | float | None:
    if isinstance(node, cst.Float):
        return float(node.value.replace("_", ""))
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal_number(node.expression)
        return -inner if inner is not None else None
    return literal_int(node)


class Env:
    def __init__(self, parent: Env | None = None) -> None:
        self.vars: dict[str, Value] = {}
        self.parent = parent

    def lookup(self, name: str) -> tuple[bool, Value]:
        env: Env | None = self
        while env is not None:
            if name in env.vars:
                return True, env.vars[name]
            env = env.parent
        return False, None


class Graph:
    """The mask dataflow of one module. Build once per module: ``Graph(module, names)``."""

    def __init__(self, module: cst.Module, names: Names) -> None:
        self.module = module
        self.names = names
        self.models: list[Model] = []
        self.layers: list[Layer] = []
        self.layer_calls: list[LayerCall] = []
        self.unresolved: set[str] = set()  # names read where no binding was known
        self._functions: list[_Function] = []
        # id() of each ``self.x`` node resolved inside its class -> the value it held there
        self._resolved_attrs: dict[int, Value] = {}
        self._block(module.body, Env())
        i = 0
        while i < len(self._functions):  # never called: walk with unknown arguments
            self._run(self._functions[i], None)
            i += 1

    # ------------------------------------------------------------ queries
    def self_attribute(self, node: cst.Attribute) -> Value:
        """The value of a ``self.x`` read inside its class (None when unknown)."""
        return self._resolved_attrs.get(id(node))

    def names_complete(self, names: set[str]) -> bool:
        """Every read of these names was attributed to a binding the walk knew."""
        return not (names & self.unresolved)

    def attr_complete(self, attr: str) -> bool:
        """Every ``x.attr`` in the module is a ``self.attr`` resolved inside its class."""
        return all(id(n) in self._resolved_attrs for n in _attributes_named(self.module, attr))

    # ------------------------------------------------------------ statements
    def _block(self, body: object, env: Env) -> None:
        for stmt in body:  # type: ignore[attr-defined]
            self._stmt(stmt, env)

    def _stmt(self, stmt: cst.CSTNode, env: Env) -> None:
        # Tests of `type(stmt)`, not isinstance(): see kmigrate.checkers._nodes.
        cls = type(stmt)
        if cls is cst.SimpleStatementLine or cls in SUITES:
            self._block(stmt.body, env)  # type: ignore[attr-defined]
        elif cls in SMALL_STATEMENTS:
            self._small(stmt, env)  # type: ignore[arg-type]
        elif type(stmt) is cst.FunctionDef:
            for deco in stmt.decorators:
                self._escape(self.eval(deco.decorator, env))
            fn = _Function(stmt, env)
            self._functions.append(fn)
            env.vars[stmt.name.value] = fn
        elif type(stmt) is cst.ClassDef:
            self._class(stmt, env)
        elif type(stmt) is cst.If or type(stmt) is cst.While:
            self._escape(self.eval(stmt.test, env))
            self._stmt(stmt.body, env)
            if stmt.orelse is not None:
                self._stmt(stmt.orelse, env)
        elif type(stmt) is cst.Else:
            self._stmt(stmt.body, env)
        elif type(stmt) is cst.For:
            self._escape(self.eval(stmt.iter, env))
            self._bind(stmt.target, None, env)
            self._stmt(stmt.body, env)
            if stmt.orelse is not None:
                self._stmt(stmt.orelse, env)
        elif type(stmt) is cst.With:
            for item in stmt.items:
                self._escape(self.eval(item.item, env))
                if item.asname is not None:
                    self._bind(item.asname.name, None, env)
            self._stmt(stmt.body, env)
        elif type(stmt) is cst.Try or type(stmt) is cst.TryStar:
            self._stmt(stmt.body, env)
            for handler in stmt.handlers:
                if handler.name is not None:
                    self._bind(handler.name.name, None, env)
                self._stmt(handler.body, env)
            for part in (stmt.orelse, stmt.finalbody):
                if part is not None:
                    self._stmt(part.body, env)
        else:
            self._generic(stmt, env)

    def _small(self, small: cst.BaseSmallStatement, env: Env) -> None:
        if type(small) is cst.Assign:
            value = self.eval(small.value, env)
            for target in small.targets:
                self._bind(target.target, value, env)
        elif type(small) is cst.AnnAssign:
            value = self.eval(small.value, env) if small.value is not None else None
            self._bind(small.target, value, env)
        elif type(small) is cst.AugAssign:
            self._escape(self.eval(small.value, env))
            self._escape(self.eval(small.target, env))
            self._bind(small.target, None, env)
        elif type(small) is cst.Return:
            value = self.eval(small.value, env) if small.value is not None else None
            if not isinstance(value, Model):  # a builder's model is followed to its callers
                self._escape(value)
            fn = env.vars.get("<function>")
            if isinstance(fn, _Function):
                fn.returns.append(value)
        elif type(small) is cst.Global or type(small) is cst.Nonlocal or type(small) is cst.Del:
            self.unresolved.update(_names_in(small))
        elif not (type(small) is cst.Import or type(small) is cst.ImportFrom):
            self._generic(small, env)

    def _bind(self, target: cst.BaseExpression, value: Value, env: Env) -> None:
        if type(target) is cst.Name:
            if target.value in env.vars:
                old = env.vars[target.value]
                # Rebound in the same scope (maybe in a branch): which value a later call
                # reaches is not known statically, so neither layer's calls are complete.
                if old is not value and (isinstance(old, (Layer, Model)) or isinstance(value, (Layer, Model))):
                    self._escape(old)
                    self._escape(value)
            env.vars[target.value] = value
            if isinstance(value, Layer) and value.binding is None:
                value.binding = target.value
            elif isinstance(value, Model):
                value.bindings.add(target.value)
        elif type(target) is cst.Tuple or type(target) is cst.List:
            self._unpack(list(target.elements), value, env)
        elif type(target) is cst.Attribute and type(target.value) is cst.Name:
            found, owner = env.lookup(target.value.value)
            if found and isinstance(owner, _SelfRef):
                self._resolved_attrs[id(target)] = value
                self._set_attr(owner, target.attr.value, value)
                return
            self._escape(value)
            if isinstance(owner, Layer):
                owner.escaped = True  # ``att.causal = ...``
            elif not found:
                self.eval(target.value, env)
        else:
            self._escape(value)
            self._generic(target, env)

    def _unpack(self, elements: list[cst.BaseElement], value: Value, env: Env) -> None:
        """``out, h, c = LSTM(..., return_state=True)(x)`` and ``out, *states = ...``."""
        seq = value if isinstance(value, Seq) else None
        items = seq.items if seq is not None else ()
        star = next((i for i, e in enumerate(elements) if type(e) is cst.StarredElement), None)
        tail = len(elements) - star - 1 if star is not None else 0
        for i, element in enumerate(elements):
            item: Value = None
            if star is None or i < star:
                item = items[i] if i < len(items) else None
            elif i == star:
                if seq is not None and len(items) >= star + tail and not (seq.open and tail):
                    item = Seq(items[star : len(items) - tail], open=seq.open)
            elif seq is not None and not seq.open:
                j = len(items) - (len(elements) - i)
                item = items[j] if j >= 0 else None
            self._bind(element.value, item, env)

    def _set_attr(self, owner: _SelfRef, attr: str, value: Value) -> None:
        owner.assigned[attr] = owner.assigned.get(attr, 0) + 1
        if owner.assigned[attr] > 1:  # assigned twice: its calls cannot be attributed
            self._escape(owner.attrs.get(attr))
            self._escape(value)
            owner.attrs[attr] = None
            return
        owner.attrs[attr] = value
        if isinstance(value, Layer) and value.binding is None:
            value.binding = "self." + attr

    def _class(self, node: cst.ClassDef, env: Env) -> None:
        for arg in node.bases:
            self._escape(self.eval(arg.value, env))
        env.vars[node.name.value] = None
        me = _SelfRef()
        body_env = Env(env)
        methods = []
        for stmt in node.body.body:
            if type(stmt) is cst.FunctionDef:
                methods.append(stmt)
            else:
                self._stmt(stmt, body_env)
        # __init__ and build bind the sublayers that the other methods call.
        methods.sort(key=lambda m: {"__init__": 0, "build": 1}.get(m.name.value, 2))
        for method in methods:
            self._run(_Function(method, env), None, self_value=me)

    # ------------------------------------------------------------ functions
    def _run(self, fn: _Function, call: cst.Call | None, env: Env | None = None, self_value: Value = None) -> None:
        """Walk a function body once, its parameters bound to the first call's arguments."""
        if fn.started:
            return
        fn.started = True
        values: list[Value] = []
        keywords: dict[str, Value] = {}
        if call is not None and env is not None:
            for arg in call.args:
                value = self.eval(arg.value, env)
                if arg.keyword is not None:
                    keywords[arg.keyword.value] = value
                elif arg.star:
                    self._escape(value)
                else:
                    values.append(value)
        local = Env(fn.env)
        local.vars["<function>"] = fn
        params = fn.node.params
        positional = [*params.posonly_params, *params.params]
        if self_value is not None:
            values.insert(0, self_value)
        for i, param in enumerate(positional):
            if param.default is not None:
                self._escape(self.eval(param.default, fn.env))
            if i < len(values):
                local.vars[param.name.value] = values[i]
            else:
                local.vars[param.name.value] = keywords.pop(param.name.value, None)
        for param in params.kwonly_params:
            if param.default is not None:
                self._escape(self.eval(param.default, fn.env))
            local.vars[param.name.value] = keywords.pop(param.name.value, None)
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                local.vars[star.name.value] = None
        for value in [*values[len(positional):], *keywords.values()]:
            self._escape(value)
        self._stmt(fn.node.body, local)

    # ------------------------------------------------------------ expressions
    def eval(self, node: cst.BaseExpression, env: Env) -> Value:
        """The abstract value of ``node``; records layer calls and model uses on the way."""
        if type(node) is cst.Name:
            found, value = env.lookup(node.value)
            if found:
                return value
            if self.names.raw(node) is None and node.value not in _BUILTINS:
                self.unresolved.add(node.value)
            return None
        if type(node) is cst.Call:
            return self._call(node, env)
        if type(node) is cst.Attribute:
            return self._attribute(node, env)
        if type(node) is cst.List or type(node) is cst.Tuple:
            items = []
            for element in node.elements:
                value = self.eval(element.value, env)
                if type(element) is cst.StarredElement:
                    self._escape(value)
                    return None
                if isinstance(value, (Layer, Model)):  # stored in a container: uses out of sight
                    value.escaped = True
                items.append(value)
            return Seq(tuple(items))
        if type(node) is cst.Subscript:
            return self._subscript(node, env)
        if type(node) in _SCOPED:
            self._scoped(node, env)
            return None
        self._generic(node, env)
        return None

    def _subscript(self, node: cst.Subscript, env: Env) -> Value:
        base = self.eval(node.value, env)
        index = None
        if len(node.slice) == 1 and type(node.slice[0].slice) is cst.Index:
            index = literal_int(node.slice[0].slice.value)
        if isinstance(base, Seq) and index is not None and not base.open:
            if -len(base.items) <= index < len(base.items):
                return base.items[index]
        self._escape(base)
        for element in node.slice:
            self._generic(element, env)
        return None

    def _scoped(self, node: cst.CSTNode, env: Env) -> None:
        """A lambda or comprehension: its parameters and loop targets are local names."""
        local = Env(env)
        if isinstance(node, cst.Lambda):
            for param in _names_in(node.params):
                local.vars[param] = None
            self._escape(self.eval(node.body, local))
            return
        comp = node.for_in  # type: ignore[attr-defined]
        while comp is not None:
            self._escape(self.eval(comp.iter, local))
            self._bind(comp.target, None, local)
            for cond in comp.ifs:
                self._escape(self.eval(cond.test, local))
            comp = comp.inner_for_in
        for part in ("elt", "key", "value"):
            expr = getattr(node, part, None)
            if isinstance(expr, cst.BaseExpression):
                self._escape(self.eval(expr, local))

    def _generic(self, node: cst.CSTNode, env: Env) -> None:
        for child in _children(node):
            cls = type(child)
            if cls is cst.Arg:
                self._escape(self.eval(child.value, env))  # type: ignore[attr-defined]
            elif cls in EXPRESSIONS:
                self._escape(self.eval(child, env))  # type: ignore[arg-type]
            elif cls in STATEMENTS:
                self._stmt(child, env)
            else:
                self._generic(child, env)

    def _escape(self, value: Value) -> None:
        if isinstance(value, (Layer, Model)):
            value.escaped = True
        elif isinstance(value, Seq):
            for item in value.items:
                self._escape(item)

    def _attribute(self, node: cst.Attribute, env: Env) -> Value:
        if type(node.value) is cst.Name:
            found, owner = env.lookup(node.value.value)
            if isinstance(owner, _SelfRef):
                if node.attr.value not in owner.attrs:
                    return None  # set by a base class or elsewhere: not attributed
                value = owner.attrs[node.attr.value]
                self._resolved_attrs[id(node)] = value
                return value
            if isinstance(owner, Layer):
                owner.escaped = True  # reading ``layer.x``: not a call of the layer
            if found:
                return None
        self._escape(self.eval(node.value, env))
        return None

    def _keras_name(self, func: cst.BaseExpression, env: Env) -> str | None:
        """Canonical Keras name of a call's function, unless a local value shadows it."""
        root = func
        while type(root) is cst.Attribute:
            root = root.value
        if type(root) is not cst.Name:
            return None
        found, value = env.lookup(root.value)
        if found and value is not None:
            return None
        return self.names.resolve_keras(func)

    def _call(self, node: cst.Call, env: Env) -> Value:
        func = node.func
        name = self._keras_name(func, env)
        if name is not None:
            return self._keras_call(node, name, env)
        callee: Value = None
        if type(func) is cst.Attribute:
            base = self.eval(func.value, env)
            if not isinstance(base, _SelfRef):
                return self._method(node, base, func.attr.value, env)
            callee = base.attrs.get(func.attr.value)
            if func.attr.value in base.attrs:
                self._resolved_attrs[id(func)] = callee
        elif type(func) is cst.Name and func.value in INSPECTING_BUILTINS and not env.lookup(func.value)[0]:
            for arg in node.args:
                self.eval(arg.value, env)
            return None
        else:
            callee = self.eval(func, env)
        if isinstance(callee, Layer):
            callee.calls.append(node)
            return self._apply(callee, node, env)
        if isinstance(callee, _Function):
            if callee.started:
                self._args(node, env)
            else:
                self._run(callee, node, env)
            return callee.result
        self._args(node, env)
        return None

    def _method(self, node: cst.Call, base: Value, method: str, env: Env) -> Value:
        """``model.fit(...)``, ``sequential.add(layer)``, ``layer.compute_mask(x)``."""
        if isinstance(base, Model):
            base.uses.append(Use(method, node))
            if method == "add" and base.kind == "sequential" and node.args and base.outputs is not None:
                layer = self.eval(node.args[0].value, env)
                base.outputs = (self._stack(base.outputs[0], layer),)
                return None
            self._args(node, env)
            return None
        if isinstance(base, Layer):
            base.escaped = True
            if method == "compute_mask" and node.args:
                applied = node.args[0].value
                value = self.eval(applied, env)
                self._args(node, env)
                source = self._source(base, applied, value)
                return Mask(frozenset({source})) if source is not None else None
        self._escape(base)
        self._args(node, env)
        return None

    def _args(self, node: cst.Call, env: Env) -> None:
        for arg in node.args:
            self._escape(self.eval(arg.value, env))

    def _keras_call(self, node: cst.Call, name: str, env: Env) -> Value:
        short = name.rsplit(".", 1)[-1]
        if name in INPUTS:
            self._args(node, env)
            return Tensor()
        if name in MODELS:
            return self._functional(node, env)
        if name in SEQUENTIALS:
            return self._sequential(node, env)
        if name in INSPECTING:
            for arg in node.args:
                self.eval(arg.value, env)
            return None
        if not name.startswith("keras.layers."):
            self._args(node, env)
            return None
        if short in MERGE_FUNCTIONS and node.args:
            value = self.eval(node.args[0].value, env)
            for arg in node.args[1:]:
                self._escape(self.eval(arg.value, env))
            return Tensor(masks_of(value))
        if not short[:1].isupper():
            self._args(node, env)
            return None
        layer = Layer(short, node)
        wrapped = _calls.argument(node, "layer", 0) if short in ("Bidirectional", "TimeDistributed") else None
        for arg in node.args:
            value = self.eval(arg.value, env)
            if arg is wrapped and isinstance(value, Layer):
                layer.inner = value
                value.escaped = True
            else:
                self._escape(value)
        self.layers.append(layer)
        return layer

    def _functional(self, node: cst.Call, env: Env) -> Model:
        outputs = _calls.argument(node, "outputs", 1)
        model = Model("functional", node, None)
        for arg in node.args:
            if arg is not outputs:
                self._escape(self.eval(arg.value, env))
        if outputs is not None and isinstance(outputs.value, cst.Dict):
            keys, values = [], []
            for element in outputs.value.elements:
                key = _calls.string_value(element.key) if isinstance(element, cst.DictElement) else None
                value = self.eval(element.value, env)
                if key is None:
                    keys = []
                    break
                keys.append(key)
                values.append(value)
            if keys:
                model.outputs, model.output_keys = tuple(values), tuple(keys)
        elif outputs is not None:
            value = self.eval(outputs.value, env)
            if isinstance(value, Seq) and not value.open:
                model.outputs = value.items
            elif isinstance(value, Tensor):
                model.outputs = (value,)
        self.models.append(model)
        return model

    def _sequential(self, node: cst.Call, env: Env) -> Model:
        layers = _calls.argument(node, "layers", 0)
        model = Model("sequential", node, (Tensor(),))
        for arg in node.args:
            if arg is layers:
                value = self.eval(arg.value, env)
                out: Value = Tensor()
                for layer in value.items if isinstance(value, Seq) and not value.open else (None,):
                    out = self._stack(out, layer)
                model.outputs = (out,) if out is not None else None
            else:
                self._escape(self.eval(arg.value, env))
        self.models.append(model)
        return model

    def _stack(self, tensor: Value, layer: Value) -> Value:
        """Sequential: apply ``layer`` to the previous output (``Input``/``InputLayer`` pass)."""
        if isinstance(layer, Tensor) and isinstance(tensor, Tensor) and not tensor.masks:
            return layer  # ``keras.Input(...)`` as the first element
        if not isinstance(layer, Layer) or tensor is None:
            return None
        layer.escaped = True
        if layer.cls == "InputLayer":
            return tensor
        return self._propagate(layer, layer.ctor, masks_of(tensor), None, tensor)

    # ------------------------------------------------------------ layer semantics
    def _source(self, layer: Layer, applied: cst.BaseExpression | None, value: Value) -> MaskSource | None:
        text = self.module.code_for_node(applied) if applied is not None else None
        if layer.cls == "Embedding" and layer.flag("mask_zero") is True:
            return MaskSource("embedding", layer, text, 0, value)
        if layer.cls == "Masking":
            arg = _calls.argument(layer.ctor, "mask_value", 0)
            pad = literal_number(arg.value) if arg is not None else 0.0
            return MaskSource("masking", layer, text, pad, value)
        return None

    def _apply(self, layer: Layer, node: cst.Call, env: Env) -> Value:
        first = _calls.argument(node, "query" if layer.cls in QUERY_ATTENTION else "inputs", 0)
        inp = self.eval(first.value, env) if first is not None else None
        explicit = _calls.keyword(node, "mask")
        if explicit is not None and type(explicit.value) is cst.Name and explicit.value.value == "None":
            explicit = None  # ``mask=None`` is filled in from the input, like no argument
        for arg in node.args:
            if arg is not first and arg is not explicit:
                self._escape(self.eval(arg.value, env))
        if isinstance(inp, Seq) and layer.cls not in MERGE:
            masks = masks_of(inp.items[0]) if inp.items else frozenset()
        else:
            masks = masks_of(inp)
        if explicit is not None:
            given = self.eval(explicit.value, env)
            if isinstance(given, Seq) and given.items:
                given = given.items[0]
            masks = given.sources if isinstance(given, Mask) else frozenset({MaskSource("explicit")})
        self.layer_calls.append(LayerCall(layer, node, masks, self._spell_mask(masks, env)))
        return self._propagate(layer, node, masks, first.value if first is not None else None, inp)

    def _spell_mask(self, masks: frozenset[MaskSource], env: Env) -> str | None:
        """``emb.compute_mask(ids)`` when both names still hold that layer and that tensor here."""
        if len(masks) != 1:
            return None
        (source,) = masks
        layer, applied = source.layer, source.applied_to
        if layer is None or layer.binding is None or applied is None or not applied.isidentifier():
            return None
        if env.lookup(layer.binding) != (True, layer):
            return None
        found, value = env.lookup(applied)
        if not found or value is not source.applied_value:
            return None
        return f"{layer.binding}.compute_mask({applied})"

    def _propagate(
        self, layer: Layer, node: cst.Call, masks: frozenset[MaskSource],
        applied: cst.BaseExpression | None, inp: Value,
    ) -> Value:
        cls = layer.cls
        if cls in ("Embedding", "Masking"):
            source = self._source(layer, applied, inp)
            return Tensor(frozenset({source}) if source is not None else frozenset(), layer)
        if cls in RNN_STATES or cls == "Bidirectional":
            return self._rnn(layer, masks)
        if cls in KEEP or cls in MERGE:
            return Tensor(masks, layer)
        if cls in LIST_ATTENTION or cls in QUERY_ATTENTION:
            out = Tensor(masks, layer)
            scores = _calls.keyword(node, "return_attention_scores")
            if scores is None or literal_bool(scores.value) is False:
                return out
            return Seq((out, Tensor(layer=layer))) if literal_bool(scores.value) else None
        return Tensor(layer=layer)

    @staticmethod
    def _rnn(layer: Layer, masks: frozenset[MaskSource]) -> Value:
        """An RNN keeps the mask only with ``return_sequences=True``; states never carry it."""
        inner = layer.inner if layer.cls == "Bidirectional" else layer
        if inner is None or inner.cls not in RNN_STATES:
            return None
        sequences, state = inner.flag("return_sequences"), inner.flag("return_state")
        if sequences is None or state is None:
            return None
        out = Tensor(masks if sequences else frozenset(), layer)
        n = RNN_STATES[inner.cls or ""]
        if layer.cls == "Bidirectional":
            merge = _calls.keyword(layer.ctor, "merge_mode")
            if merge is not None and literal_bool(merge.value) is None and _calls.string_value(merge.value) is None:
                return None  # merge_mode=None (two outputs) or a variable
            n = 2 * n if n is not None else None
        if not state:
            return out
        if n is None:
            return Seq((out,), open=True)
        return Seq((out, *([Tensor(layer=layer)] * n)))


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
# Fields that hold only whitespace, punctuation and operators: nothing the graph evaluates.
_INERT_FIELDS = frozenset({
    "lpar", "rpar", "comma", "semicolon", "equal", "colon", "dot", "operator", "header", "footer",
    "leading_lines", "lines_after_decorators", "newline", "lbracket", "rbracket", "lbrace",
    "rbrace", "first_line", "empty_lines", "indent", "trailing_whitespace", "asynchronous",
})


def _children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Child nodes in source order, without whitespace and punctuation (``node.children``
    rebuilds the node)."""
    cls = type(node)
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name for f in dataclasses.fields(cls) if "whitespace" not in f.name and f.name not in _INERT_FIELDS
        )
        _CHILD_FIELDS[cls] = names
    out: list[cst.CSTNode] = []
    for name in names:
        value = getattr(node, name)
        cls = type(value)
        if cls in NODES:
            out.append(value)
        elif isinstance(value, (tuple, list)):
            out.extend(v for v in value if type(v) in NODES)
    return out


def _names_in(node: cst.CSTNode) -> list[str]:
    found: list[str] = []
    walk(node, {"Name": [lambda n: found.append(n.value)]}, {}, [])  # type: ignore[attr-defined]
    return found


def _attributes_named(module: cst.Module, attr: str) -> list[cst.Attribute]:
    found: list[cst.Attribute] = []

    def seen(node: cst.CSTNode) -> None:
        if node.attr.value == attr:  # type: ignore[attr-defined]
            found.append(node)  # type: ignore[arg-type]

    walk(module, {"Attribute": [seen]}, {}, [])
    return found


def builds_model(names: Names, call: cst.Call) -> bool:
    """Whether ``call`` may construct a model: the graph finds models only at such calls, so
    the rules about models need no graph in a module without one."""
    func = call.func
    return _calls.may_resolve_to(func, _CONSTRUCTOR_NAMES) and names.resolve_keras(func) in _CONSTRUCTORS


def graph_of(ctx: object) -> Graph:
    """The module's graph, built once per checked file and shared by the rules that need it."""
    graph = getattr(ctx, "_mask_graph", None)
    if graph is None:
        graph = Graph(ctx.module, ctx.names)  # type: ignore[attr-defined]
        setattr(ctx, "_mask_graph", graph)
    return graph
