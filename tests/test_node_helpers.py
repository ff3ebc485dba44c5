"""The shortcuts the checkers take on hot paths give the answers of the slow forms they replace."""

from __future__ import annotations

import inspect
import textwrap

import libcst as cst
import pytest

from kmigrate.checkers import _calls, _nodes
from kmigrate.graph import Graph, builds_model
from kmigrate.names import Names
from kmigrate.walk import walk

LIBCST_CLASSES = [c for c in vars(cst).values() if inspect.isclass(c) and issubclass(c, cst.CSTNode)]


@pytest.mark.parametrize(
    ("found", "bases"),
    [
        (_nodes.NODES, (cst.CSTNode,)),
        (_nodes.EXPRESSIONS, (cst.BaseExpression,)),
        (_nodes.SMALL_STATEMENTS, (cst.BaseSmallStatement,)),
        (_nodes.SUITES, (cst.BaseSuite,)),
        (_nodes.STATEMENTS, (cst.BaseStatement, cst.BaseSmallStatement, cst.BaseSuite)),
    ],
)
def test_class_sets_answer_like_isinstance(found: frozenset[type], bases: tuple[type, ...]) -> None:
    for cls in LIBCST_CLASSES:
        assert (cls in found) == issubclass(cls, bases), cls


ALL_STATEMENTS = '''
"""doc"""
import os; x = 1
if a: b = 1
elif c:
    d = 2
elif e: pass
else:
    f = 3
for i in range(3):
    g = i
else: h = 0
while x:
    x -= 1
else:
    y: int = 2
try:
    z = 1
except ValueError as exc:
    w = exc
except (TypeError, KeyError): v = 1
else:
    u = 2
finally:
    t = 3
try:
    pass
except* OSError:
    s = 1
with open(p) as fh, open(q): r = fh
async def coro():
    async with lock:
        q = 1
    async for item in aiter():
        p = item
    return [n for n in range(3)]
class Outer:
    attr = lambda self: 1
    def method(self):
        class Inner:
            deep = 1
        return Inner
match command:
    case [x, y]:
        o = x
    case {"k": v} if v:
        n = v
    case _:
        pass
@decorator
def decorated(arg=1): del arg; global G; nonlocal_free = 1
'''


def test_statements_lists_what_a_full_walk_visits_in_the_same_order() -> None:
    module = cst.parse_module(ALL_STATEMENTS)
    kinds = _nodes.SMALL_STATEMENTS | _nodes.subclasses(cst.BaseCompoundStatement)
    walked: list[cst.CSTNode] = []
    walk(module, {cls.__name__: [walked.append] for cls in kinds}, {}, [])
    found = _nodes.statements(module)
    assert [type(n).__name__ for n in found] == [type(n).__name__ for n in walked]
    assert all(a is b for a, b in zip(found, walked))
    assert sum(type(n) is cst.Assign for n in found) == 20


def test_statements_of_a_function_stay_inside_it() -> None:
    module = cst.parse_module("def f():\n    a = 1\n    if a:\n        b = 2\nc = 3\n")
    func = module.body[0]
    assert isinstance(func, cst.FunctionDef)
    names = [n.targets[0].target.value for n in _nodes.statements(func) if isinstance(n, cst.Assign)]
    assert names == ["a", "b"]


CALLS = """
import tensorflow as tf
import tensorflow.keras.layers as L
from tensorflow import keras
from keras.layers import Embedding as E
from keras.models import *
from keras.layers import *
import numpy as np
Alias = keras.layers.Embedding
layer = L.Dense(3)
tf.keras.layers.Embedding(1, 2)
keras.layers.BatchNormalization()
L.Embedding(1, 2)
E(1, 2)
Alias(1, 2)
Embedding(1, 2)
Sequential()
tf.keras
tf.Variable(1.0)
tf.compat.v1.keras.layers.Dense(1)
tf.nn.relu(x)
np.ones(3)
layer(x)
layer.call(x)
f()(x)
print(x)
"""


def _calls_of(source: str) -> tuple[Names, list[cst.Call]]:
    module = cst.parse_module(textwrap.dedent(source))
    found: list[cst.Call] = []
    walk(module, {"Call": [found.append]}, {}, [])
    return Names(module), found


def test_may_resolve_to_never_rules_out_the_name_a_call_resolves_to() -> None:
    names, calls = _calls_of(CALLS)
    resolved = 0
    for call in calls:
        for resolve in (names.resolve, names.resolve_keras):
            name = resolve(call.func)
            if name is not None:
                resolved += 1
                assert _calls.may_resolve_to(call.func, {name.rpartition(".")[2]}), name
    assert resolved > 20
    bn = next(c for c in calls if names.resolve(c.func) == "keras.layers.BatchNormalization")
    assert not _calls.may_resolve_to(bn.func, {"Embedding"})


def test_canonical_prefixes_tell_keras_names_from_tensorflow_ones() -> None:
    # functional.py and activations.py rely on it to skip a second resolution.
    names, calls = _calls_of(CALLS)
    for call in calls:
        name = names.resolve(call.func)
        if name is None:
            continue
        from_keras = names.resolve_keras(call.func) is not None
        assert name.startswith("keras.") == from_keras or name == "keras", name
        if name.startswith("tensorflow."):
            assert not from_keras, name


MODEL_SOURCES = [
    "from tensorflow import keras\nm = keras.Model(i, o)",
    "import tensorflow as tf\nm = tf.keras.models.Sequential([tf.keras.layers.Dense(1)])",
    "from keras.models import Model as M\nm = M(inputs=i, outputs=[a, b])",
    "from keras.models import *\nm = Sequential()\nm.add(x)",
    "import tf_keras as K\nSeq = K.Sequential\ndef build():\n    return Seq([K.layers.Embedding(9, 2, mask_zero=True)])",
    "from tensorflow.keras import models\nmodels.Model(i, {'a': x, 'b': y}).compile(metrics=['acc'])",
]


@pytest.mark.parametrize("source", MODEL_SOURCES)
def test_every_model_of_the_graph_is_built_by_a_call_builds_model_accepts(source: str) -> None:
    module = cst.parse_module(source)
    names = Names(module)
    graph = Graph(module, names)
    assert graph.models
    for model in graph.models:
        assert builds_model(names, model.ctor)
    calls: list[cst.Call] = []
    walk(module, {"Call": [calls.append]}, {}, [])
    assert {id(c) for c in calls if builds_model(names, c)} == {id(m.ctor) for m in graph.models}
