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


def test_bare_name_resolves_to_the_star_module_that_exports_it() -> None:
    # `from keras.models import *` + `from keras.layers import *`: a layer is not a `keras.models` name.
    code = "from keras.models import *\nfrom keras.layers import *\nfrom keras.optimizers import *\nx = 1\n"
    names = Names(cst.parse_module(code))
    assert names.resolve(cst.Name("ConvLSTM2D")) == "keras.layers.ConvLSTM2D"
    assert names.resolve(cst.Name("Model")) == "keras.models.Model"
    assert names.resolve(cst.Name("Adam")) == "keras.optimizers.Adam"


def test_two_star_imports_still_flag_a_layer(fix_code) -> None:
    code = "from keras.models import *\nfrom keras.layers import *\nx = ConvLSTM2D(4, 3)\n"
    assert "recurrent_activation=" in fix_code(code, select=("KM106",))


def test_removing_the_last_argument_keeps_the_closing_paren_on_its_line(fix_code) -> None:
    code = "import keras\nm = keras.Model()\nm.fit(\n    x,\n    epochs=2,\n    workers=4\n)\n"
    assert fix_code(code, select=("KM352",)).endswith("m.fit(\n    x,\n    epochs=2\n)\n")


def test_appending_after_an_untrailed_last_argument_keeps_the_layout() -> None:
    from kmigrate.checkers import _calls

    call = cst.parse_expression("f(\n    x,\n    y\n)")
    assert isinstance(call, cst.Call)
    assert cst.Module([]).code_for_node(_calls.append(call, "z", "1")) == "f(\n    x,\n    y,\n    z=1\n)"


def test_backend_function_the_module_patches_in_is_not_flagged(fix_code) -> None:
    # `K.flatten = flatten` at module level: `K.flatten(x)` calls the module's own function.
    code = (
        "import keras.backend as K\n\ndef flatten(x):\n    return x\n\n"
        "def f(x):\n    return K.flatten(x) + K.sum(x)\n\nK.flatten = flatten\n"
    )
    fixed = fix_code(code, select=("KM250",))
    assert "K.flatten(x)" in fixed and "K.sum(x)" not in fixed
