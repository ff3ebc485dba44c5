"""Needle words of the functional, import, `call`, custom-weight, training-loop and layer-API
checkers.

Each program below is flagged through a path where the needle word is easy to miss (an alias,
a star import, an instance, a layer applied to a function's parameter, an attribute) and holds
only the needle words listed with it: the screen must keep the rule for it. test_screen.py
also runs every program of this file with the screen on and off.
"""

from __future__ import annotations

import textwrap

import pytest

from kmigrate import engine
from kmigrate.catalogue import load_rules
from kmigrate.checkers import fit_calls, functional, sequence_init, train_step
from kmigrate.checkers._sequences import SEQUENCE_BASES
from kmigrate.diagnostics import FileError
from kmigrate.runner import check_text
from kmigrate.versions import Target

ALL_RULES = {r.code: r for r in load_rules()}
CHECKERS = (
    "functional", "imports", "call_graph", "custom_weights", "train_step", "training_logs",
    "fit_calls", "layer_api", "sequence_init",
)  # fmt: skip
OWN = {code: r for code, r in ALL_RULES.items() if r.checker in CHECKERS}

# (code, the needle words the program holds, space-separated (None: not checked), program)
CASES = [
    ("KM355", "Sequence", """
        from tensorflow.keras.utils import *


        class Batches(Sequence):
            def __init__(self, x):
                self.x = x
    """),
    ("KM355", "Sequence", """
        from keras.utils import Sequence as Source


        class Batches(Source):
            def __init__(self, x):
                self.x = x


        class Shuffled(Batches):
            def __init__(self, x):
                self.x = x
    """),
    ("KM355", "Sequence", """
        from tensorflow.keras.utils import data_utils


        class Batches(data_utils.Sequence):
            def __init__(self, x):
                self.x = x
    """),
    ("KM116", "Variable", """
        from tensorflow import Variable as TFVar
        from tensorflow import keras


        class Scale(keras.layers.Layer):
            def build(self, shape):
                self.k = TFVar(1.0)
    """),
    ("KM322", "add_weight", """
        from tensorflow import keras


        class Scale(keras.layers.Layer):
            def build(self, shape):
                self.k = self.add_weight("k", (3,))
    """),
    ("KM236", "strings", """
        from tensorflow import keras
        from tensorflow import strings as text_ops


        class Tok(keras.layers.Layer):
            def call(self, x):
                return text_ops.length(x)
    """),
    ("KM236", "io", """
        import tensorflow.io as tio
        from tensorflow import keras


        class Png(keras.layers.Layer):
            def call(self, x):
                return tio.decode_png(x)
    """),
    ("KM234", "minimize", """
        from tensorflow.keras.optimizers import Adam as A

        opt = A(1e-3)
        opt.minimize(loss_fn, variables)
    """),
    ("KM308", "layers", """
        import tensorflow as tf
        from tensorflow.keras import layers


        def block(x):
            h = layers.Dense(4)(x)
            return tf.nn.relu(h)
    """),
    ("KM308", "layers", """
        import tensorflow as tf
        from tensorflow.keras import layers

        conv = layers.Conv2D(8, 3)


        def stem(images):
            return tf.nn.relu(conv(images))
    """),
    ("KM308", "output", """
        import tensorflow as tf
        from tensorflow import keras

        base = keras.applications.MobileNetV2(weights=None, include_top=False)
        pooled = tf.reduce_mean(base.output, axis=[1, 2])
    """),
    ("KM316", "InputLayer layers", """
        from tensorflow.keras.layers import InputLayer as Entry

        layer = Entry(input_shape=(3,))
    """),
    ("KM317", "Model", """
        from keras import Model as Net

        net = Net([[a, b], c], total)
    """),
    ("KM210", "call", """
        from tensorflow import keras


        class Gate(keras.layers.Layer):
            def call(self, x):
                if x > 0:
                    return x
                return -x
    """),
    ("KM329", "dynamic", """
        from tensorflow import keras


        class Eager(keras.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(dynamic=True, **kwargs)
    """),
    ("KM371", None, """
        from tensorflow import python as tf_python

        layer = tf_python.keras.layers.Dense(3)
    """),
    ("KM230", "lr", """
        from tensorflow import keras

        printer = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: print(logs["lr"]))
    """),
    ("KM137", "metrics_names", """
        from tensorflow import keras

        print(model.metrics_names)
    """),
    ("KM352", "workers", """
        from tensorflow import keras

        model.fit(data, workers=4)
    """),
    ("KM326", "add_metric", """
        from tensorflow import keras


        class Activity(keras.layers.Layer):
            def call(self, x):
                self.add_metric(x, name="activity")
                return x
    """),
]


def _found(text: str, rules: dict, screened: bool):
    found = check_text(text, "x.py", rules, Target(), use_screen=screened)
    assert not isinstance(found, FileError), found
    return [(d.code, d.span, d.message, d.fix) for d in found]


@pytest.mark.parametrize(("code", "held", "program"), CASES, ids=[c[0] for c in CASES])
def test_a_subtle_case_keeps_its_rule(code: str, held: str | None, program: str) -> None:
    text = textwrap.dedent(program)
    rule = ALL_RULES[code]
    needles = engine.rule_needles(rule)
    assert needles is not None
    if held is not None:
        assert engine.words(text) & needles == set(held.split())
    alone = _found(text, {code: rule}, screened=True)
    assert code in {f[0] for f in alone}
    assert alone == _found(text, {code: rule}, screened=False)
    assert _found(text, ALL_RULES, screened=True) == _found(text, ALL_RULES, screened=False)


def test_every_checker_here_has_needles() -> None:
    for rule in OWN.values():
        assert engine.rule_needles(rule), rule.code


def test_tf_only_code_runs_none_of_these_rules() -> None:
    text = "import tensorflow as tf\n\nx = tf.nn.relu(tf.ones((2,)))\n"
    assert engine.screen(OWN, text) == frozenset()


def test_needles_follow_the_tables() -> None:
    assert {n.rpartition(".")[2] for n in SEQUENCE_BASES} <= sequence_init.SequenceInitChecker.needles
    assert {*fit_calls.GENERATOR_PARAMS, *fit_calls.WORKER_ARGS} <= fit_calls.FitCallsChecker.needles
    xla = train_step.TrainStepChecker.needles
    for name in train_step.NON_XLA_EXACT:
        assert name.rpartition(".")[2] in xla
    for prefix in train_step.NON_XLA_PREFIXES:
        assert prefix.split(".")[-2] in xla  # "tensorflow.io.decode_" -> "io"
    symbolic = functional.FunctionalChecker.needles
    assert functional.SYMBOLIC_ATTRS <= symbolic
    assert {n.rpartition(".")[2] for n in (*functional.INPUTS, *functional.MODELS)} <= symbolic
