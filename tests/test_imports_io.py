"""KM150 switches `tf.keras` to `keras` only when no symbol of the `tf.keras` compat namespace is used."""

from __future__ import annotations

import textwrap

import pytest

from kmigrate.catalogue import load_rules
from kmigrate.runner import check_text
from kmigrate.versions import Target

RULES = {r.code: r for r in load_rules()}


def findings(code: str, *codes: str):
    diags = check_text(textwrap.dedent(code), "m.py", {c: RULES[c] for c in codes}, Target())
    assert isinstance(diags, list)
    return diags


@pytest.mark.parametrize(
    "blocker",
    [
        "from tensorflow.keras.preprocessing.text import Tokenizer",
        "from tensorflow.keras.preprocessing.image import ImageDataGenerator",
        "loss = tf.keras.losses.Reduction.SUM",
        "loss = tf.keras.losses.mse",
        "total = K.dot(a, b)",
        "layer = tf.keras.layers.ThresholdedReLU(1.0)",
        "from tensorflow.keras.backend import int_shape",
    ],
)
def test_compat_only_symbols_keep_the_imports(blocker: str) -> None:
    code = f"import tensorflow as tf\nfrom tensorflow.keras import backend as K\n{blocker}\n"
    [diag] = findings(code, "KM150")
    assert diag.fix is None
    assert "compat namespace" in diag.message


def test_one_informational_finding_per_module_with_the_whole_rewrite() -> None:
    code = """
    import tensorflow as tf
    from tensorflow.keras.layers import Dense

    model = tf.keras.Sequential([Dense(2)])
    model.compile(optimizer=tf.keras.optimizers.SGD(), loss="mse")
    """
    [diag] = findings(code, "KM150")
    assert diag.breaks == "info" and diag.fix is not None and diag.fix.safety == "safe"
    assert len(diag.fix.edits) == 4  # the import, two `tf.keras`, and `import keras`


def test_off_by_default_and_silent_without_tf_keras() -> None:
    assert not RULES["KM150"].default_enabled
    assert findings("import keras\nlayer = keras.layers.Dense(2)\n", "KM150") == []
    assert findings("import tensorflow as tf\nx = tf.constant(1)\n", "KM150") == []


def test_backend_rewrites_unblock_the_import_switch(fix_code) -> None:
    before = """
    import tensorflow as tf
    from tensorflow.keras import backend as K

    def score(x):
        return K.sum(K.argmax(x), axis=0) + K.epsilon()
    """
    after = fix_code(before, select=("KM150", "KM501"))
    assert "from keras import backend as K" in after
    assert "keras.ops.sum(keras.ops.argmax(x, axis=-1), axis=0)" in after
    assert "tf.keras" not in after and "tensorflow.keras" not in after


def test_keras_name_bound_elsewhere_blocks_the_fix() -> None:
    code = "import tensorflow as tf\nkeras = None\nlayer = tf.keras.layers.Dense(2)\n"
    [diag] = findings(code, "KM150")
    assert diag.fix is None


def test_rewrite_runs_the_same_under_keras3(keras_runner, fix_code) -> None:
    before = """
import numpy as np
import tensorflow as tf
from tensorflow.keras import layers
model = tf.keras.Sequential([tf.keras.Input((3,)), layers.Dense(2, kernel_initializer="ones")])
RESULT = model(np.ones((1, 3), dtype="float32"))
"""
    after = fix_code(before, select=("KM150",))
    assert "tf.keras" not in after
    import numpy as np

    np.testing.assert_allclose(keras_runner.k3(after), keras_runner.k3(before))


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        # The module's own spelling wins: `tensorflow.keras` where it dominates, else `keras`.
        ("from tensorflow.keras.layers import Dense\nfrom tensorflow.keras.models import Model\n",
         "from tensorflow.keras.layers import Dropout"),
        ("import keras\nfrom keras.models import Model\n", "from keras.layers import Dropout"),
        ("import numpy as np\n", "from keras.layers import Dropout"),
    ],
)
def test_python_keras_import_keeps_module_spelling(fix_code, module, expected):
    fixed = fix_code(module + "from tensorflow.python.keras.layers import Dropout\n", select=("KM371",))
    assert expected + "\n" in fixed
