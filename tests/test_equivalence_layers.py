"""The activation, regularizer and seed fixes, run for real: before under Keras 2, after under Keras 3.

Catalogue 3 (hard_sigmoid), 4 (ConvLSTM gate default), 7 (l1_l2 defaults), 14 (seeds) and
50 (relu/LeakyReLU alpha). Each test also shows that the unfixed code behaves differently
under Keras 3, so it fails if the fix stops doing its job.
"""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy", reason="the verify extra is not installed")

from tests.equivalence import SnippetError

GRID = "x = np.linspace(-4.0, 4.0, 33, dtype='float32').reshape(-1, 1)\n"
HEADER = "import numpy as np\nimport tensorflow as tf\nfrom tensorflow import keras\n" + GRID


def _close(a, b, tol: float = 1e-6) -> bool:
    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)))) <= tol


@pytest.mark.parametrize(
    "body",
    [
        # activation string on a layer, with weights fixed by the initializers
        "layer = keras.layers.Dense(1, activation='hard_sigmoid', kernel_initializer='ones', "
        "bias_initializer='zeros')\nRESULT = layer(x)\n",
        # Activation layer
        "RESULT = keras.layers.Activation('hard_sigmoid')(x)\n",
        # the function itself, through activations and the backend
        "RESULT = [keras.activations.hard_sigmoid(tf.constant(x)), keras.backend.hard_sigmoid(tf.constant(x))]\n",
        # a recurrent gate, with constant weights
        "seq = np.tile(x.reshape(1, -1, 1)[:, :8], (2, 1, 3)) * np.array([1.0, -0.5, 0.25], 'float32')\n"
        "layer = keras.layers.LSTM(4, recurrent_activation='hard_sigmoid', return_sequences=True,\n"
        "    kernel_initializer=keras.initializers.Constant(0.3),\n"
        "    recurrent_initializer=keras.initializers.Constant(-0.2))\n"
        "RESULT = layer(seq)\n",
    ],
    ids=["dense-string", "activation-layer", "function", "lstm-gate"],
)
def test_hard_sigmoid_fix_reproduces_keras2(body, keras_runner, fix_code) -> None:
    before = HEADER + body
    after = fix_code(before, select=("KM105",))
    assert "hard_sigmoid_k2" in after and "'hard_sigmoid'" not in after
    k2 = keras_runner.k2(before)
    assert _close(keras_runner.k3(after), k2)
    if "backend.hard_sigmoid" not in body:  # Keras 3 has no K.hard_sigmoid at all
        assert not _close(keras_runner.k3(before), k2, 1e-3)
    # The compat function is Keras 2 code too: the fixed module still runs there, unchanged.
    assert _close(keras_runner.k2(after), k2)


def test_convlstm_default_gate_fix_reproduces_keras2(keras_runner, fix_code) -> None:
    before = HEADER + (
        "frames = np.linspace(-2, 2, 2 * 3 * 5 * 5, dtype='float32').reshape(2, 3, 5, 5, 1)\n"
        "layer = keras.layers.ConvLSTM2D(2, 3, kernel_initializer=keras.initializers.Constant(0.2),\n"
        "    recurrent_initializer=keras.initializers.Constant(-0.1))\n"
        "RESULT = layer(frames)\n"
    )
    after = fix_code(before, select=("KM106",))
    assert "recurrent_activation=hard_sigmoid_k2" in after
    k2 = keras_runner.k2(before)
    assert _close(keras_runner.k3(after), k2, 1e-5)
    assert not _close(keras_runner.k3(before), k2, 1e-4)


@pytest.mark.parametrize("call", ["l1_l2()", "l1_l2(l1=1e-3)", "l1_l2(l2=0.5)", "l1_l2(0.2)"])
def test_l1_l2_fix_reproduces_keras2(call, keras_runner, fix_code) -> None:
    before = HEADER + (
        f"reg = keras.regularizers.{call}\n"
        "w = tf.constant(np.arange(-2, 4, dtype='float32').reshape(3, 2))\n"
        "RESULT = float(reg(w))\n"
    )
    after = fix_code(before, select=("KM107",))
    assert after != before
    k2 = keras_runner.k2(before)
    assert keras_runner.k3(after) == pytest.approx(k2, rel=1e-6)
    assert keras_runner.k3(before) != pytest.approx(k2, rel=1e-3)


SEEDED_DROPOUT = """
import numpy as np
import tensorflow as tf
from tensorflow import keras


def mask():
    tf.random.set_seed(1234)
    return np.asarray(keras.layers.Dropout(0.5)(np.ones((1, 64), "float32"), training=True))


RESULT = bool(np.array_equal(mask(), mask()))
"""


def test_seed_fix_makes_dropout_reproducible_again(keras_runner, fix_code) -> None:
    after = fix_code(SEEDED_DROPOUT, select=("KM108",))
    assert "keras.utils.set_random_seed(1234)" in after
    assert keras_runner.k2(SEEDED_DROPOUT) is True
    assert keras_runner.k3(after) is True
    assert keras_runner.k3(SEEDED_DROPOUT) is False  # the silent Keras 3 behaviour


@pytest.mark.parametrize(
    "body",
    [
        "RESULT = keras.activations.relu(tf.constant(x), alpha=0.1)\n",
        "RESULT = keras.activations.relu(tf.constant(x), max_value=2.0, alpha=0.05)\n",
        "RESULT = keras.layers.LeakyReLU(alpha=0.2)(x)\n",
    ],
    ids=["relu", "relu-max-value", "leaky-relu"],
)
def test_alpha_rename_reproduces_keras2(body, keras_runner, fix_code) -> None:
    before = HEADER + body
    after = fix_code(before, select=("KM305",))
    assert "negative_slope=" in after and "alpha=" not in after
    assert _close(keras_runner.k3(after), keras_runner.k2(before))
    if "activations.relu" in body:
        with pytest.raises(SnippetError, match="alpha"):
            keras_runner.k3(before)


def test_hard_sigmoid_k2_survives_keras3_save_and_load(keras_runner, fix_code, tmp_path) -> None:
    before = HEADER + (
        "inp = keras.Input((1,))\n"
        "model = keras.Model(inp, keras.layers.Dense(2, activation='hard_sigmoid')(inp))\n"
        f"model.save({str(tmp_path / 'm.keras')!r})\n"
        f"again = keras.models.load_model({str(tmp_path / 'm.keras')!r})\n"
        "RESULT = [model(x), again(x)]\n"
    )
    after = fix_code(before, select=("KM105",))
    first, reloaded = keras_runner.k3(after)
    assert _close(first, reloaded, 0.0)


FUNCTIONAL_TF_OPS = """
import numpy as np
import tensorflow as tf
from tensorflow import keras

a = keras.Input((3, 4))
b = keras.Input((3, 4))
x = tf.concat([a, b], -1)
s = tf.reduce_sum(x, axis=1)
outs = [
    s,
    tf.reduce_max(x, axis=[1, 2]),
    tf.reduce_mean(x, 1, keepdims=True),
    tf.gather(x, 1, axis=1),
    tf.gather(s, [0, 1]),
    tf.nn.softmax(s),
    tf.nn.log_softmax(s, axis=0),
    tf.expand_dims(s, 1),
    tf.transpose(x, [0, 2, 1]),
    tf.transpose(x),
    tf.squeeze(tf.expand_dims(s, -1)),
    tf.nn.gelu(s),
    tf.nn.leaky_relu(s),
    tf.stack([s, s]),
    tf.cumsum(s),
    tf.clip_by_value(s, -0.5, 0.5),
    tf.maximum(s, 0.1),
    tf.reshape(x, (-1, 24)),
    tf.tile(s, [1, 2]),
    tf.where(s > 0, s, -s),
    tf.cast(s > 0, tf.float32),
    tf.math.log(tf.nn.sigmoid(s)),
    tf.pad(s, [[0, 0], [1, 2]]),
    tf.matmul(a, tf.transpose(b, [0, 2, 1])),
    tf.image.resize(tf.expand_dims(x, -1), (2, 2)),
]
model = keras.Model([a, b], outs)
rng = np.random.RandomState(0)
A = rng.randn(5, 3, 4).astype("float32")
B = rng.randn(5, 3, 4).astype("float32")
RESULT = [np.asarray(o).tolist() for o in model([A, B])]
"""


def test_tf_ops_rewritten_to_keras_ops_reproduce_keras2(keras_runner, fix_code) -> None:
    after = fix_code(FUNCTIONAL_TF_OPS, select=("KM308",))
    assert after.count("keras.ops.") >= 20 and "keras.layers.Lambda(lambda t: tf.image.resize" in after
    k2 = keras_runner.k2(FUNCTIONAL_TF_OPS)
    k3 = keras_runner.k3(after)
    assert len(k2) == len(k3)
    for i, (left, right) in enumerate(zip(k2, k3)):
        assert np.asarray(left).shape == np.asarray(right).shape, i
        assert _close(left, right, 1e-5), i
    with pytest.raises(SnippetError, match="KerasTensor cannot be used as input to a TensorFlow function"):
        keras_runner.k3(FUNCTIONAL_TF_OPS)


def test_embedding_input_length_fix_builds_the_model_as_keras2_did(keras_runner, fix_code) -> None:
    before = (
        "from tensorflow import keras\n"
        "from tensorflow.keras.layers import Dense, Embedding, Flatten\n"
        "model = keras.Sequential([Embedding(1000, 8, input_length=10), Flatten(), Dense(1)])\n"
        "other = keras.Sequential()\n"
        "other.add(Embedding(50, 4, input_length=7))\n"
        "RESULT = [model.count_params(), list(model.output_shape), other.count_params(),\n"
        "          [list(l.output.shape) for l in model.layers]]\n"
    )
    after = fix_code(before, select=("KM306",))
    assert "input_length" not in after
    assert keras_runner.k3(after) == keras_runner.k2(before)
    with pytest.raises(SnippetError, match="built"):
        keras_runner.k3(before)


@pytest.mark.parametrize(
    "body, code",
    [
        ("RESULT = [keras.layers.ThresholdedReLU(theta=0.5)(x), keras.layers.ThresholdedReLU()(x),\n"
         "          keras.layers.ThresholdedReLU(2.0)(x), keras.layers.ThresholdedReLU(theta=0.0)(x)]\n", "KM314"),
        ("img = np.arange(2 * 6 * 6 * 1, dtype='float32').reshape(2, 6, 6, 1)\n"
         "RESULT = [keras.layers.AveragePooling2D()(img).numpy().ravel(),\n"
         "          keras.layers.AveragePooling1D()(img[:, :, 0]).numpy().ravel()]\n", "KM313"),
        ("scores = np.linspace(-3, 3, 12, dtype='float32').reshape(2, 6)\n"
         "mask = tf.constant([[1, 1, 1, 0, 0, 0], [1, 0, 1, 0, 1, 0]]) > 0\n"
         "RESULT = keras.layers.Softmax(robust_masking=True)(scores, mask=mask)\n", "KM315"),
    ],
    ids=["thresholded-relu", "average-pooling", "softmax-robust-masking"],
)
def test_removed_layer_rewrites_reproduce_keras2(body, code, keras_runner, fix_code) -> None:
    # `import keras`: Keras 3's tf.keras namespace keeps a legacy ThresholdedReLU, keras.layers not.
    before = "import numpy as np\nimport tensorflow as tf\nimport keras\n" + GRID + body
    after = fix_code(before, select=(code,))
    assert after != before
    k2 = keras_runner.k2(before)
    k3 = keras_runner.k3(after)
    for left, right in zip(k2, k3) if code != "KM315" else [(k2, k3)]:
        assert _close(left, right)
    with pytest.raises(SnippetError):
        keras_runner.k3(before)
