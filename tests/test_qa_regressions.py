"""Regressions found by running kmigrate over public Keras 2 code bases (minimal hand-written
snippets reproduce each one)."""

from __future__ import annotations

import libcst as cst

from kmigrate.names import Names


def test_spelling_follows_the_keras_import_not_a_bare_tensorflow_import(fix_code) -> None:
    # `import tensorflow as tf` next to a standalone-Keras import must not make fixes write
    # `from tensorflow import keras` into a standalone-Keras file.
    code = "import tensorflow as tf\nimport keras.backend as K\n\nbig = K.dtype(x) == 'float64'\n"
    fixed = fix_code(code, select=("KM250",))
    assert "from tensorflow import keras" not in fixed
    assert "import keras\n" in fixed
    assert "keras.backend.standardize_dtype(x.dtype)" in fixed


def test_tensorflow_alone_still_spells_tf_keras() -> None:
    names = Names(cst.parse_module("import tensorflow as tf\n"))
    assert names.origin == "tensorflow.keras"
