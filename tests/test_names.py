"""Every spelling of a Keras 2 name resolves to one canonical name; unimported names never do."""

from __future__ import annotations

import libcst as cst
import pytest

from kmigrate.names import Names, canonical

SPELLINGS = [
    ("import tensorflow as tf", "tf.keras.optimizers.Adam"),
    ("import tensorflow", "tensorflow.keras.optimizers.Adam"),
    ("import tensorflow.keras", "tensorflow.keras.optimizers.Adam"),
    ("from tensorflow import keras", "keras.optimizers.Adam"),
    ("import keras", "keras.optimizers.Adam"),
    ("import tf_keras", "tf_keras.optimizers.Adam"),
    ("import tf_keras as keras", "keras.optimizers.Adam"),
    ("from tensorflow.python import keras", "keras.optimizers.Adam"),
    ("import tensorflow.python.keras as keras", "keras.optimizers.Adam"),
    ("import tensorflow.keras.optimizers as O", "O.Adam"),
    ("from keras.optimizers import Adam as A", "A"),
    ("from tensorflow.keras.optimizers import Adam", "Adam"),
    ("from tensorflow.keras import optimizers", "optimizers.Adam"),
    ("from tensorflow.keras.optimizers import *", "Adam"),
    ("import tensorflow.compat.v2 as tf", "tf.keras.optimizers.Adam"),
    ("from tensorflow import keras\nopts = keras.optimizers", "opts.Adam"),
    ("import tensorflow as tf\nAdam = tf.keras.optimizers.Adam", "Adam"),
    (
        "try:\n    from tensorflow import keras\nexcept ImportError:\n    import keras",
        "keras.optimizers.Adam",
    ),
]


def resolve(source: str, expr: str) -> str | None:
    module = cst.parse_module(source + "\n")
    return Names(module).resolve(cst.parse_expression(expr))


@pytest.mark.parametrize("imports,expr", SPELLINGS)
def test_every_spelling_is_canonical(imports: str, expr: str) -> None:
    assert resolve(imports, expr) == "keras.optimizers.Adam"


def test_backend_alias() -> None:
    assert resolve("from tensorflow.keras import backend as K", "K.argmax") == "keras.backend.argmax"
    assert resolve("import keras.backend as K", "K.sum") == "keras.backend.sum"


def test_layers_module_alias() -> None:
    assert resolve("import tensorflow.keras.layers as L", "L.Dense") == "keras.layers.Dense"


@pytest.mark.parametrize(
    "source,expr",
    [
        ("", "keras.optimizers.Adam"),
        ("", "tf.keras.optimizers.Adam"),
        ("import torch", "torch.optim.Adam"),
        ("import tensorflow as tf\ntf = make_fake()", "tf.keras.optimizers.Adam"),
        ("from tensorflow import keras\nkeras = None", "keras.optimizers.Adam"),
        ("import keras\ndef f(keras):\n    pass\nfor keras in x:\n    pass", "keras.optimizers.Adam"),
    ],
)
def test_unimported_or_rebound_names_do_not_resolve(source: str, expr: str) -> None:
    resolved = resolve(source, expr)
    assert resolved is None or not resolved.startswith("keras.")


def test_non_keras_names_resolve_to_their_module() -> None:
    assert resolve("import tensorflow as tf", "tf.random.set_seed") == "tensorflow.random.set_seed"


def test_instances_are_tracked() -> None:
    module = cst.parse_module("import keras\nopt = keras.optimizers.Adam(0.1)\n")
    names = Names(module)
    assert names.instance_of(cst.parse_expression("opt")) == "keras.optimizers.Adam"
    assert names.resolve(cst.parse_expression("opt")) is None


def test_canonical() -> None:
    assert canonical("tensorflow.python.keras.layers.Dense") == "keras.layers.Dense"
    assert canonical("tf_keras.src.engine") == "keras.src.engine"
    assert canonical("numpy.float32") == "numpy.float32"


@pytest.mark.parametrize(
    "source,expr,target,expected",
    [
        ("import tensorflow as tf", "tf.keras.optimizers.legacy.Adam", "keras.optimizers.Adam", "tf.keras.optimizers.Adam"),
        ("from tensorflow import keras", "keras.optimizers.legacy.Adam", "keras.optimizers.Adam", "keras.optimizers.Adam"),
        ("import tensorflow.keras.optimizers.legacy as L\nimport tensorflow as tf", "L.Adam", "keras.optimizers.Adam", "tf.keras.optimizers.Adam"),
    ],
)
def test_rewrites_keep_the_users_spelling(source: str, expr: str, target: str, expected: str) -> None:
    module = cst.parse_module(source + "\n")
    assert Names(module).spell_like(cst.parse_expression(expr), target) == expected


def test_spelling_falls_back_to_an_import() -> None:
    module = cst.parse_module("from tensorflow.keras.optimizers import Adam\n")
    names = Names(module)
    assert names.spell("keras.optimizers.schedules.InverseTimeDecay") is None
    assert names.import_for("keras.optimizers.schedules.InverseTimeDecay") == (
        "from tensorflow.keras.optimizers.schedules import InverseTimeDecay",
        "InverseTimeDecay",
    )
