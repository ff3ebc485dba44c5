"""Keras-3-clean programs produce no findings (and really run under Keras 3).

Each program here is written the Keras 3 way; every enabled rule runs over it and none may
report anything. Add a program for the idioms your rules must leave alone.
"""

from __future__ import annotations

import pytest

from kmigrate.catalogue import load_rules
from kmigrate.diagnostics import FileError
from kmigrate.runner import check_text
from kmigrate.versions import Target

CUSTOM_LAYERS = '''
import numpy as np
import keras
from keras import layers, ops


class NoisyDense(layers.Layer):
    """A dense layer that adds noise in training, written for Keras 3."""

    def __init__(self, units, rate=0.1, **kwargs):
        super().__init__(name="noisy_dense", **kwargs)
        self.units = units
        self.rate = rate
        self.seed = keras.random.SeedGenerator(1)
        self.activity = keras.metrics.Mean(name="activity")

    def build(self, input_shape):
        dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(dim, self.units), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")
        self.scale = keras.Variable(1.0, trainable=False, name="scale")

    def call(self, x, training=None, mask=None):
        y = ops.matmul(x, self.kernel) + self.bias
        if training:
            y = y + self.rate * keras.random.normal(ops.shape(y), seed=self.seed)
        if mask is not None:
            y = y * ops.expand_dims(ops.cast(mask, y.dtype), -1)
        if x.shape[-1] > 1 and len(x.shape) == 2:
            y = ops.where(y > 0, y, 0.0)
        y = ops.cond(ops.sum(y) > 0, lambda: y, lambda: -y)
        self.add_loss(1e-4 * ops.sum(ops.square(self.kernel)))
        self.calls.assign_add(1.0)
        self.activity.update_state(ops.mean(y))
        return y * self.scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "rate": self.rate}


class Above(keras.metrics.Metric):
    def __init__(self, name="above", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_weight(name="total", initializer="zeros")
        self.count = self.add_variable(shape=(), initializer="zeros", aggregation="sum", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(ops.sum(ops.cast(y_pred > 0.5, "float32")))
        self.count.assign_add(ops.cast(ops.size(y_pred), "float32"))

    def result(self):
        return ops.divide_no_nan(self.total, self.count)


class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = NoisyDense(4)
        self.out = layers.Dense(1, name="head")

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs, training=training))


inputs = keras.Input(batch_shape=(None, 3), name="features")
outputs = layers.Dense(1)(NoisyDense(4)(inputs))
functional = keras.Model(inputs, outputs, name="functional_net")
stateful = keras.Sequential([keras.Input(batch_shape=(2, 5, 3)), layers.LSTM(4, stateful=True, implementation=2)])
embedding = layers.Embedding(10, 3, weights=[np.ones((10, 3))])
net = Net()
net.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse", metrics=[Above()])
net.fit(np.ones((8, 3), "float32"), np.ones((8, 1), "float32"), epochs=1, verbose=0)
functional.compile(optimizer="adam", loss="mse")
functional.fit(np.ones((8, 3), "float32"), np.ones((8, 1), "float32"), epochs=1, verbose=0)
RESULT = "ok"
'''

PROGRAMS = {"custom_layers": CUSTOM_LAYERS}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_clean_program_has_no_findings(name: str) -> None:
    rules = {r.code: r for r in load_rules()}
    diags = check_text(PROGRAMS[name], f"{name}.py", rules, Target())
    assert not isinstance(diags, FileError), diags
    assert [f"{d.span.line}: {d.code} {d.message}" for d in diags] == []


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_clean_program_runs_under_keras3(name: str, keras_runner) -> None:
    assert keras_runner.k3(PROGRAMS[name]) == "ok"
