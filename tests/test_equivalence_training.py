"""The training-loop and callback fixes, run for real: before under Keras 2, after under Keras 3.

Each test also runs the unfixed code under Keras 3 and shows that it fails or differs, so the test
fails if the fix stops doing its job. Models are tiny and deterministic (constant initial
weights, unshuffled batches), so Keras 2 and Keras 3 produce the same numbers.
"""

from __future__ import annotations

import pytest

from tests.equivalence import SnippetError


def close(a: object, b: object, rel: float = 1e-5) -> bool:
    """Nested lists/dicts of numbers agree to ``rel`` (pytest.approx does not nest)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, z, rel) for x, z in zip(a, b))
    return b == pytest.approx(a, rel=rel, abs=1e-7)

DATA = """
import numpy as np
import tensorflow as tf
from tensorflow import keras
rng = np.random.RandomState(0)
x = rng.randn(40, 3).astype("float32")
y = (x[:, :1] > 0).astype("float32")
"""


def test_evaluate_return_dict_matches_keras2_zip(keras_runner, fix_code) -> None:  # KM137, entry 12
    before = DATA + """
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="ones")])
model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", metrics=["mae", "mse"])
model.fit(x, y, epochs=2, batch_size=10, shuffle=False, verbose=0)
scores = dict(zip(model.metrics_names, model.evaluate(x, y, verbose=0)))
RESULT = scores
"""
    after = fix_code(before, select=("KM137",))
    assert "model.evaluate(x, y, verbose=0, return_dict=True)" in after
    k2 = keras_runner.k2(before)
    k3 = keras_runner.k3(after)
    assert sorted(k2) == sorted(k3) == ["loss", "mae", "mse"]
    assert close(k2, k3)
    assert sorted(keras_runner.k3(before)) == ["compile_metrics", "loss"]  # mislabelled


LR_CALLBACK = DATA + """
seen = []
class Probe(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        seen.append(logs["lr"])
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="ones")])
model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
history = model.fit(x, y, epochs=3, batch_size=10, verbose=0, callbacks=[schedule, Probe()])
RESULT = [history.history["lr"], seen]
"""


def test_history_learning_rate_key(keras_runner, fix_code) -> None:  # KM230, entry 20
    after = fix_code(LR_CALLBACK, select=("KM230",))
    assert after.count('"learning_rate"') == 2 and '"lr"' not in after
    k2 = keras_runner.k2(LR_CALLBACK)
    assert k2[0] == pytest.approx([0.05, 0.025, 0.0125])
    assert close(k2, keras_runner.k3(after))
    with pytest.raises(SnippetError, match="KeyError"):
        keras_runner.k3(LR_CALLBACK)


EARLY_STOPPING = DATA + """
def score(y_true, y_pred):  # rises while training: Keras 2's "auto" minimised it
    return tf.reduce_mean(1.0 - tf.abs(y_true - y_pred))
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones")])
model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=[score])
stop = keras.callbacks.EarlyStopping(monitor="val_score", patience=1)
history = model.fit(x[:30], y[:30], validation_data=(x[30:], y[30:]), epochs=20, batch_size=10,
                    shuffle=False, verbose=0, callbacks=[stop])
RESULT = [len(history.history["loss"]), history.history["val_score"]]
"""

REDUCE_LR = DATA + """
def acc_gap(y_true, y_pred):  # falls while training: Keras 2's "auto" maximised it ("acc")
    return tf.reduce_mean(tf.abs(y_true - y_pred))
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones")])
model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=[acc_gap])
reduce = keras.callbacks.ReduceLROnPlateau(monitor="val_acc_gap", factor=0.5, patience=0, min_delta=0.0)
history = model.fit(x[:30], y[:30], validation_data=(x[30:], y[30:]), epochs=6, batch_size=10,
                    shuffle=False, verbose=0, callbacks=[reduce])
RESULT = [float(model.optimizer.learning_rate), history.history["val_acc_gap"]]
"""


@pytest.mark.parametrize(
    ("before", "mode"), [(EARLY_STOPPING, 'mode="min"'), (REDUCE_LR, 'mode="max"')], ids=["es", "rlrop"]
)
def test_monitor_mode_keeps_keras2_decisions(before, mode, keras_runner, fix_code) -> None:  # KM231, entry 21
    after = fix_code(before, select=("KM231",))
    assert mode in after
    k2 = keras_runner.k2(before)
    if before is EARLY_STOPPING:
        assert k2[0] == 2  # Keras 2 stopped after two epochs
    else:
        assert k2[0] == pytest.approx(0.5 * 0.5**5)  # and halved the rate five times
    assert close(k2, keras_runner.k3(after))
    with pytest.raises(SnippetError, match="ValueError: .* isn't able to automatically determine"):
        keras_runner.k3(before)


def test_metric_reset_state(keras_runner, fix_code) -> None:  # KM233, entry 23
    before = """
from tensorflow import keras
tracker = keras.metrics.Mean(name="loss")
out = []
for epoch in range(3):
    for value in range(epoch, epoch + 3):
        tracker.update_state(float(value))
    out.append(float(tracker.result()))
    tracker.reset_states()
RESULT = out
"""
    after = fix_code(before, select=("KM233",))
    assert "tracker.reset_state()" in after
    k2 = keras_runner.k2(before)
    assert k2 == [1.0, 2.0, 3.0]
    assert keras_runner.k3(after) == k2
    with pytest.raises(SnippetError, match="AttributeError"):
        keras_runner.k3(before)


def test_loss_reduction_strings(keras_runner, fix_code) -> None:  # KM354, entry 48
    before = """
import numpy as np
import tensorflow as tf
y_true = np.array([[0.0, 1.0], [1.0, 1.0], [0.5, 0.0]], dtype="float32")
y_pred = np.array([[0.2, 0.7], [0.9, 0.4], [0.1, 0.3]], dtype="float32")
weights = np.array([1.0, 0.5, 2.0], dtype="float32")

class Scaled(tf.keras.losses.Loss):
    def __init__(self, scale=2.0, name="scaled"):
        super().__init__(reduction="auto", name=name)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)

losses = [
    tf.keras.losses.MeanSquaredError(reduction=tf.keras.losses.Reduction.AUTO),
    tf.keras.losses.MeanAbsoluteError(reduction=tf.keras.losses.Reduction.SUM),
    tf.keras.losses.BinaryCrossentropy(reduction=tf.keras.losses.Reduction.NONE),
    tf.keras.losses.Huber(reduction="auto"),
    Scaled(),
]
RESULT = [np.asarray(loss(y_true, y_pred, sample_weight=weights)).tolist() for loss in losses]
"""
    after = fix_code(before, select=("KM354",))
    assert "Reduction" not in after and '"auto"' not in after
    k2 = keras_runner.k2(before)
    k3 = keras_runner.k3(after)
    assert len(k3[2]) == 3  # "none" kept per-sample values
    assert close(k2, k3)
    with pytest.raises(SnippetError):
        keras_runner.k3(before)


def test_minimize_rewrite_trains_like_keras2(keras_runner, fix_code) -> None:  # KM234, entry 29
    before = DATA + """
class Regressor(keras.Model):
    def train_step(self, data):
        xb, yb = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(xb, training=True) - yb))
        self.optimizer.minimize(loss, self.trainable_variables, tape=tape)
        return {"loss": loss}

inputs = keras.Input((3,))
model = Regressor(inputs, keras.layers.Dense(1, kernel_initializer="ones")(inputs))
model.compile(optimizer=keras.optimizers.SGD(0.1))
model.fit(x, y, epochs=2, batch_size=10, shuffle=False, verbose=0)
RESULT = [w.tolist() for w in model.get_weights()]
"""
    after = fix_code(before, select=("KM234",))
    assert "apply_gradients(zip(grads, self.trainable_variables))" in after
    k2 = keras_runner.k2(before)
    k3 = keras_runner.k3(after)
    assert close(k2, k3)
    with pytest.raises(SnippetError, match="AttributeError"):
        keras_runner.k3(before)


def test_model_reset_states_loop(keras_runner, fix_code) -> None:  # KM232, entry 22
    before = """
import numpy as np
from tensorflow import keras
x = np.linspace(-1, 1, 2 * 4 * 1, dtype="float32").reshape(2, 4, 1)
inputs = keras.Input(batch_shape=(2, 4, 1))
lstm = keras.layers.LSTM(3, stateful=True, kernel_initializer="ones",
                         recurrent_initializer="ones")(inputs)
model = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer="ones")(lstm))
first = model.predict(x, verbose=0)
carried = model.predict(x, verbose=0)
model.reset_states()
fresh = model.predict(x, verbose=0)
RESULT = [first.tolist(), carried.tolist(), fresh.tolist()]
"""
    after = fix_code(before, select=("KM232",))
    assert 'getattr(layer, "stateful", False)' in after
    k2 = keras_runner.k2(before)
    assert not close(k2[0], k2[1])  # the state is carried between calls
    assert close(k2[0], k2[2])  # and reset
    assert close(k2, keras_runner.k3(after))
    with pytest.raises(SnippetError, match="AttributeError"):
        keras_runner.k3(before)


def test_reduce_lr_epsilon_is_min_delta(keras_runner, fix_code) -> None:  # KM135, entry 10
    before = """
from tensorflow import keras
RESULT = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", epsilon=0.5).min_delta
"""
    after = fix_code(before, select=("KM135",))
    assert keras_runner.k2(before) == keras_runner.k3(after) == 0.5
    assert keras_runner.k3(before) == pytest.approx(1e-4)  # silently swallowed


def test_generator_methods_and_worker_arguments(keras_runner, fix_code) -> None:  # KM350/352/355, entries 47, 54
    before = DATA + """
class Batches(keras.utils.Sequence):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return self.x[i * 10:(i + 1) * 10], self.y[i * 10:(i + 1) * 10]

model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="ones")])
model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
model.fit_generator(Batches(x, y), 4, 2, verbose=0, shuffle=False, workers=2)
loss = model.evaluate_generator(Batches(x, y), 4)
RESULT = [loss] + [w.tolist() for w in model.get_weights()]
"""
    after = fix_code(before, select=("KM350", "KM352", "KM355"))
    assert "fit_generator" not in after and "Batches(x, y, workers=2)" in after
    assert "super().__init__(**kwargs)" in after and "verbose=0)" in after
    k2 = keras_runner.k2(before)
    k3 = keras_runner.k3(after)
    assert close(k2, k3)
    with pytest.raises(SnippetError, match="AttributeError"):
        keras_runner.k3(before)
