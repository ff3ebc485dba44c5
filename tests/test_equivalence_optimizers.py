"""The optimizer fixes, run for real: before under Keras 2, after under Keras 3."""

from __future__ import annotations

import pytest

TRAJECTORY = """
import numpy as np
w = tf.Variable(np.ones(3, dtype="float32"))
traj = []
for step in range(12):
    opt.apply_gradients([(tf.constant([1.0, -0.5, 0.25]), w)])
    traj.append(w.numpy().copy())
RESULT = np.array(traj)
"""


def legacy(code: str) -> str:
    """Keras 2 code that passes lr=/decay= ran on the legacy optimizers (TF <= 2.10)."""
    return code.replace("keras.optimizers.", "keras.optimizers.legacy.")


@pytest.mark.parametrize(
    "construct",
    [
        "opt = keras.optimizers.SGD(0.1, momentum=0.9, decay=1e-2)",
        "opt = keras.optimizers.Adam(lr=1e-2, decay=1e-2)",
        "opt = keras.optimizers.RMSprop(learning_rate=0.01, decay=0.05, epsilon=None)",
    ],
)
def test_decay_and_lr_rewrites_reproduce_keras2(construct, keras_runner, fix_code) -> None:
    import numpy as np

    before = "import tensorflow as tf\nfrom tensorflow import keras\n" + construct + "\n"
    after = fix_code(before)
    assert "InverseTimeDecay" in after and "decay=" not in after.replace("decay_rate", "").replace("decay_steps", "")
    k2 = np.array(keras_runner.k2(legacy(before) + TRAJECTORY))
    k3 = np.array(keras_runner.k3(after + TRAJECTORY))
    unfixed = np.array(
        keras_runner.k3(before.replace("lr=", "learning_rate=").replace("epsilon=None", "epsilon=1e-7") + TRAJECTORY)
    )
    assert np.max(np.abs(k2 - k3)) < 1e-4
    assert np.max(np.abs(k2 - unfixed)) > 1e-3  # without the fix Keras 3 trains differently


def test_lr_attribute_assignment_fix(keras_runner, fix_code) -> None:
    before = """
import tensorflow as tf
from tensorflow import keras
opt = keras.optimizers.SGD(0.1)
w = tf.Variable([1.0])
opt.apply_gradients([(tf.constant([1.0]), w)])
opt.lr = 0.0
opt.apply_gradients([(tf.constant([1.0]), w)])
RESULT = float(w.numpy()[0])
"""
    after = fix_code(before)
    assert "opt.learning_rate = 0.0" in after
    k2 = keras_runner.k2(before)
    assert keras_runner.k3(after) == pytest.approx(k2)
    assert keras_runner.k3(before) != pytest.approx(k2)  # the silent Keras 3 behaviour


def test_lion_default_fix(keras_runner, fix_code) -> None:
    before = "import keras\nopt = keras.optimizers.Lion()\nRESULT = float(opt.learning_rate)\n"
    after = fix_code(before)
    assert keras_runner.k3(after) == pytest.approx(keras_runner.k2(before))
