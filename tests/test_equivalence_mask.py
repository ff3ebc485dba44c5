"""The masking and attention fixes, run for real: before under Keras 2, after under Keras 3."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy", reason="the verify extra is not installed")

from tests.equivalence import SnippetError

HEAD = """
import numpy as np
import tensorflow as tf
from tensorflow import keras
rng = np.random.RandomState(0)
q = rng.randn(2, 5, 4).astype("float32")
v = rng.randn(2, 5, 4).astype("float32")
q_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
v_mask = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], bool)
"""

# Weights are set from numpy after construction: the layouts are identical in both versions.
SET_WEIGHTS = """
model.set_weights([np.random.RandomState(i).uniform(-0.5, 0.5, w.shape).astype("float32")
                   for i, w in enumerate(model.get_weights())])
"""

CAUSAL_CASES = {
    "inline": """
out = keras.layers.Attention(causal=True)([q, v], mask=[q_mask, v_mask])
RESULT = np.asarray(out)
""",
    "bound, called twice, once with use_causal_mask=False": """
att = keras.layers.AdditiveAttention(causal=True, use_scale=False)
a = att([q, v])
b = att([a, v], use_causal_mask=False, mask=[q_mask, v_mask])
RESULT = np.concatenate([np.asarray(a), np.asarray(b)])
""",
    "sublayer of a custom layer": """
class Block(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.attention = keras.layers.Attention(
            causal=True,
            use_scale=True,
        )

    def call(self, x):
        return self.attention([x, x]) + x

RESULT = np.asarray(Block()(q))
""",
    "functional model on a masked embedding": """
ids = keras.Input(shape=(6,), dtype="int32")
emb = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
attention = keras.layers.Attention(causal=True)
context = attention([emb, emb])
model = keras.Model(ids, context)
""" + SET_WEIGHTS + """
RESULT = np.asarray(model(np.array([[3, 1, 4, 1, 0, 0], [5, 9, 2, 6, 5, 3]], "int32")))
""",
}


@pytest.mark.parametrize("case", CAUSAL_CASES, ids=list(CAUSAL_CASES))
def test_attention_causal_fix_reproduces_keras2(case: str, keras_runner, fix_code) -> None:
    before = HEAD + CAUSAL_CASES[case]
    after = fix_code(before, select=("KM335",))
    assert "causal=True" not in after and "use_causal_mask=True" in after
    k2 = np.array(keras_runner.k2(before))
    k3 = np.array(keras_runner.k3(after))
    np.testing.assert_allclose(k3, k2, atol=1e-5, rtol=1e-5)
    with pytest.raises(SnippetError, match="causal"):
        keras_runner.k3(before)  # Keras 3 rejects the constructor argument
    # Dropping the argument alone is not enough: the calls need use_causal_mask=True.
    dropped = after.replace(", use_causal_mask=True", "")
    assert np.max(np.abs(np.array(keras_runner.k3(dropped)) - k2)) > 1e-3


RNN_CASES = {
    "bidirectional": "keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))"
    "(x, initial_state=[s, s, s, s])",
    "last output": "keras.layers.GRU(3)(x, initial_state=[s])",
    "returned states": "keras.layers.LSTM(3, return_sequences=True, return_state=True)(x, initial_state=[s, s])[1]",
}


@pytest.mark.parametrize("case", RNN_CASES, ids=list(RNN_CASES))
def test_rnn_initial_state_mask_fix_reproduces_keras2(case: str, keras_runner, fix_code) -> None:
    before = f"""
import numpy as np
import tensorflow as tf
from tensorflow import keras
ids = keras.Input(shape=(6,), dtype="int32")
s = keras.Input(shape=(3,))
emb = keras.layers.Embedding(10, 4, mask_zero=True)
x = emb(ids)
y = {RNN_CASES[case]}
model = keras.Model([ids, s], y)
"""
    run = SET_WEIGHTS + """
tokens = np.array([[3, 1, 4, 0, 0, 0], [5, 9, 2, 6, 5, 3], [2, 7, 0, 0, 0, 0]], "int32")
state = np.random.RandomState(7).randn(3, 3).astype("float32")
out = np.asarray(model([tokens, state]))
RESULT = out[tokens != 0] if out.ndim == 3 else out  # real steps only
"""
    after = fix_code(before, select=("KM126",))
    assert "mask=emb.compute_mask(ids)" in after
    k2 = np.array(keras_runner.k2(before + run))
    k3 = np.array(keras_runner.k3(after + run))
    np.testing.assert_allclose(k3, k2, atol=1e-5, rtol=1e-5)
    unfixed = np.array(keras_runner.k3(before + run))
    assert np.max(np.abs(unfixed - k2)) > 1e-3  # Keras 3 runs over the padding without the fix


MULTI_OUTPUT = """
import numpy as np
import tensorflow as tf
from tensorflow import keras
inp = keras.Input(shape=(4,))
hidden = keras.layers.Dense(8, activation="tanh")(inp)
price = keras.layers.Dense(1, name="price")(hidden)
score = keras.layers.Dense(1, name="score")(hidden)
model = keras.Model(inp, [price, score])
model.compile(optimizer="sgd", loss="mse", metrics=METRICS)
""" + SET_WEIGHTS + """
x = np.random.RandomState(3).randn(16, 4).astype("float32")
y = [np.ones((16, 1), "float32"), np.zeros((16, 1), "float32")]
RESULT = {k: float(v) for k, v in model.evaluate(x, y, verbose=0, return_dict=True).items()}
"""


@pytest.mark.parametrize("metrics", ['["mae", "mse"]', '["mae"]', '[keras.metrics.MeanAbsoluteError(), "mse", "mape"]'])
def test_multi_output_metrics_fix_reproduces_keras2(metrics: str, keras_runner, fix_code) -> None:
    before = MULTI_OUTPUT.replace("METRICS", metrics)
    after = fix_code(before, select=("KM221",))
    assert after != before
    k2 = keras_runner.k2(before)
    k3 = keras_runner.k3(after)
    assert set(k3) == set(k2)  # the same metric names, per output
    for key in k2:
        assert k3[key] == pytest.approx(k2[key], rel=1e-5, abs=1e-6), key
    try:
        unfixed = keras_runner.k3(before)
    except SnippetError:
        return  # a flat list shorter than the outputs: Keras 3 raises
    assert set(unfixed) != set(k2)  # as long as the outputs: one metric per output, silently


def test_masked_metrics_fix_measures_what_keras2_reported(keras_runner, fix_code) -> None:
    """On keras >= 3.12 (installed) the rewrite reports Keras 2's number; 3.4 is test_seed_parity's."""
    before = """
import numpy as np
import tensorflow as tf
from tensorflow import keras
ids = keras.Input(shape=(6,), dtype="int32")
x = keras.layers.Embedding(12, 4, mask_zero=True)(ids)
x = keras.layers.LSTM(5, return_sequences=True)(x)
probs = keras.layers.Dense(12, activation="softmax")(x)
model = keras.Model(ids, probs)
model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
""" + SET_WEIGHTS + """
X = np.random.RandomState(1).randint(1, 12, size=(32, 6)).astype("int32")
X[:, 3:] = 0
Y = np.where(X != 0, np.random.RandomState(2).randint(1, 12, size=X.shape), 0).astype("int32")
RESULT = model.evaluate(X, Y, verbose=0)
"""
    after = fix_code(before, select=("KM125",))
    assert 'weighted_metrics=["accuracy"]' in after and "sample_weight=(Y != 0)" in after
    k2_loss, k2_accuracy = keras_runner.k2(before)
    k3_loss, k3_accuracy = keras_runner.k3(after)
    assert k3_loss == pytest.approx(k2_loss, rel=1e-5)
    assert k3_accuracy == pytest.approx(k2_accuracy, abs=1e-6)
