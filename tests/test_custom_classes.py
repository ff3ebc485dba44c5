"""The helper that finds a module's Keras Layer/Model/Metric subclasses (checkers/_classes.py)."""

from __future__ import annotations

import libcst as cst

from kmigrate.checkers._classes import KerasClasses, keras_kind
from kmigrate.engine import Context
from kmigrate.names import Names
from kmigrate.versions import Target

SOURCE = '''
import tensorflow as tf
import tf_keras
from keras.layers import Layer as Base
from tensorflow.python.keras.engine.base_layer import Layer as OldLayer
L = tf.keras.layers


class A(L.Layer):
    def call(self, x):
        def inner():
            return x
        return inner()


class B(A):
    pass


class C(B, object):
    pass


class Net(tf.keras.Model):
    pass


class Acc(tf_keras.metrics.Mean):
    pass


class D(Base):
    pass


class E(OldLayer):
    pass


class Seq(tf.keras.Sequential):
    pass


class Layer:
    pass


class NotKeras(Layer):
    pass


class Mixin:
    pass


def factory():
    class Local(tf.keras.layers.Dense):
        pass
    return Local


class Cycle1(Cycle2):
    pass


class Cycle2(Cycle1):
    pass
'''


def classes() -> tuple[KerasClasses, cst.Module]:
    module = cst.parse_module(SOURCE)
    return KerasClasses(Context("x.py", module, Names(module), {}, Target())), module


def test_kinds_and_bases() -> None:
    found, _ = classes()
    kinds = {name: (found.named(name).kind, found.named(name).keras_base)  # type: ignore[union-attr]
             for name in ("A", "B", "C", "Net", "Acc", "D", "E", "Seq", "Local")}
    assert kinds == {
        "A": ("layer", "keras.layers.Layer"),
        "B": ("layer", "keras.layers.Layer"),
        "C": ("layer", "keras.layers.Layer"),
        "Net": ("model", "keras.Model"),
        "Acc": ("metric", "keras.metrics.Mean"),
        "D": ("layer", "keras.layers.Layer"),
        "E": ("layer", "keras.engine.base_layer.Layer"),
        "Seq": ("model", "keras.Sequential"),
        "Local": ("layer", "keras.layers.Dense"),
    }
    for name in ("Layer", "NotKeras", "Mixin", "Cycle1", "Cycle2"):
        assert found.named(name) is None, name


def test_lineage_and_methods() -> None:
    found, _ = classes()
    c = found.named("C")
    assert c is not None
    assert [k.name for k in found.lineage(c)] == ["C", "B", "A"]
    call = found.find_method(c, "call")
    assert call is not None and call.name.value == "call"
    assert found.find_method(c, "compute_output_shape") is None
    assert c.own_method("call") is None


def test_keras_kind() -> None:
    assert keras_kind("keras.layers.Dense") == "layer"
    assert keras_kind("keras.layers.experimental.preprocessing.Rescaling") == "layer"
    assert keras_kind("keras.models.Model") == "model"
    assert keras_kind("keras.metrics.AUC") == "metric"
    assert keras_kind("keras.metrics.mae") is None
    assert keras_kind("keras.layers.add") is None
    assert keras_kind("keras.optimizers.Adam") is None
    assert keras_kind(None) is None


def test_enclosing_method() -> None:
    found, module = classes()
    a = found.named("A")
    assert a is not None
    call = a.own_method("call")
    assert call is not None
    inner = call.body.body[0]
    assert isinstance(inner, cst.FunctionDef)
    ret = inner.body.body[0]
    ctx = Context("x.py", module, Names(module), {}, Target())
    body = a.node.body
    ctx.ancestors = [module, a.node, body, call, call.body, inner, inner.body, ret]
    method = found.enclosing_method(ctx)
    assert method is not None and method.name == "call" and method.nested and method.self_name == "self"
    ctx.ancestors = [module, a.node, body, call]
    method = found.enclosing_method(ctx)
    assert method is not None and not method.nested and method.cls is a
    ctx.ancestors = [module, a.node, body]
    assert found.enclosing_method(ctx) is None
