"""Needle words of the optimizer, saving, layer-init, backend, reset_states, batchnorm, attention,
layer-args and rnn-padding checkers.

Each case below is a finding whose needle word is easy to miss: the Keras name is spelled only
in an alias import, a star import or an assignment, or the finding is on a method, attribute or
keyword rather than on a Keras name. Each must be found with the screen on, and the screen must
change nothing (these snippets also join the comparison in test_screen.py).
"""

from __future__ import annotations

import textwrap

import pytest

from kmigrate import engine
from kmigrate.catalogue import load_rules
from kmigrate.checkers import _backend_ops, attention, batchnorm, layer_init, optimizers, rnn_padding
from kmigrate.diagnostics import FileError
from kmigrate.runner import check_text
from kmigrate.versions import Target

ALL_RULES = {r.code: r for r in load_rules()}
CHECKERS = ("optimizers", "saving", "layer_init", "backend", "reset_states", "batchnorm", "attention",
            "layer_args", "rnn_padding")
OWN_RULES = {c: r for c, r in ALL_RULES.items() if r.checker in CHECKERS}

CASES: list[tuple[str, str]] = [
    # optimizers: the class name only in a star import's use, an alias import, an assignment
    ("KM101", """
        from tensorflow.keras.optimizers import *
        opt = SGD(0.1, decay=1e-4)
    """),
    ("KM301", """
        from keras.optimizers import Adam as A
        opt = A(lr=0.1)
    """),
    ("KM103", """
        import keras
        Opt = keras.optimizers.Lion
        opt = Opt()
    """),
    ("KM304", """
        from tensorflow.keras.optimizers import legacy as L
        opt = L.Nadam()
    """),
    # optimizers: `.lr` with no optimizer class named anywhere
    ("KM102", """
        import keras

        def rate(model):
            return model.optimizer.lr
    """),
    ("KM102", """
        from keras import backend as K

        def reset(model):
            K.set_value(model.optimizer.lr, 0.1)
    """),
    # backend: the function reached through a module alias, an assignment, a star import
    ("KM250", """
        import tensorflow.keras.backend as B
        phase = B.learning_phase()
    """),
    ("KM250", """
        import keras
        K = keras.backend
        total = K.sum(x)
    """),
    ("KM151", """
        from keras.backend import *
        labels = argmax(probs)
    """),
    ("KM250", """
        from keras.backend import int_shape as shape_of
    """),
    # saving: methods and aliased functions
    ("KM251", """
        import keras
        model = keras.Sequential()
        model.save("exported")
    """),
    ("KM252", """
        from keras.models import load_model as restore
        model = restore("saved_dir")
    """),
    ("KM253", """
        import keras
        model.save_weights("w.ckpt")
    """),
    ("KM254", """
        import keras
        model = keras.models.model_from_json(text)
    """),
    ("KM255", """
        import keras

        class Net(keras.Model):
            def __init__(self, units):
                super().__init__()

        net = Net(3)
        net.save("net.keras")
    """),
    ("KM370", """
        from keras.callbacks import ModelCheckpoint as MC
        checkpoint = MC("ckpt", period=1)
    """),
    ("KM409", """
        import keras
        text = model.to_yaml()
    """),
    # layer_init: keywords, add_weight's positional name, a Layer base imported under an alias
    ("KM320", """
        from tensorflow.keras.layers import Layer as Base

        class Legacy(Base):
            def __init__(self):
                super().__init__(False)
    """),
    ("KM328", """
        import keras

        class Block(keras.layers.Layer):
            def build(self, shape):
                self.w = self.add_weight("block/w", shape)
    """),
    ("KM328", """
        from keras import layers as L
        dense = L.Dense(2, name="a/b")
    """),
    ("KM321", """
        import keras
        dense = keras.layers.Dense(2, dynamic=True)
    """),
    # reset_states
    ("KM233", """
        import keras
        mean = keras.metrics.Mean()
        mean.reset_states()
    """),
    ("KM232", """
        import keras
        model = keras.Sequential()
        model.reset_states()
    """),
    # batchnorm: aliases
    ("KM311", """
        from tensorflow.keras.layers import BatchNormalization as BN
        norm = BN(fused=True)
    """),
    ("KM312", """
        from tensorflow.keras.layers import experimental as E
        norm = E.SyncBatchNormalization()
    """),
    ("KM109", """
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Conv2D(4, 3), tf.keras.layers.BatchNormalization()])
    """),
    # attention: an alias; KM336 in a subclass of a subclass, and on an instance
    ("KM335", """
        from keras.layers import Attention as Att
        attend = Att(causal=True)
    """),
    ("KM336", """
        from tensorflow.keras.layers import MultiHeadAttention as M

        class Base(M):
            pass

        class Relative(Base):
            def _make_output_dense(self, free_dims, common_kwargs, name=None):
                pass
    """),
    ("KM336", """
        import keras
        mha = keras.layers.MultiHeadAttention(2, 4)
        mha._build_from_signature(q, v)
    """),
    # layer_args
    ("KM309", """
        from keras.layers import LSTM as L
        rnn = L(4, time_major=True)
    """),
    ("KM310", """
        import keras
        rnn = keras.layers.RNN(keras.layers.SimpleRNNCell(4))
        out = rnn(x, constants=[c])
    """),
    ("KM314", """
        from tensorflow.keras import layers
        Gate = layers.ThresholdedReLU
        gate = Gate()
    """),
    # rnn_padding: pad_sequences under an alias
    ("KM237", """
        from tensorflow import keras
        from tensorflow.keras.utils import pad_sequences as pad
        x = pad(seqs)
        model = keras.Sequential([keras.layers.Embedding(10, 4, mask_zero=True), keras.layers.LSTM(4)])
    """),
]


def _found(text: str, screened: bool):
    found = check_text(text, "x.py", ALL_RULES, Target(), use_screen=screened)
    assert not isinstance(found, FileError), found
    return [(d.code, d.span, d.message, d.fix) for d in found]


@pytest.mark.parametrize(("code", "text"), CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_subtle_cases_are_found_through_the_screen(code: str, text: str) -> None:
    text = textwrap.dedent(text).lstrip("\n")
    assert engine.screen({code: ALL_RULES[code]}, text) == {code}
    on = _found(text, True)
    assert code in {c for c, *_ in on}
    assert on == _found(text, False)


def test_every_checker_has_needles() -> None:
    for code, rule in OWN_RULES.items():
        assert engine.checker_class(rule.checker).needles, code


def test_needles_follow_the_checkers_tables() -> None:
    assert set(optimizers.OPTIMIZERS) | {"lr"} <= optimizers.OptimizerChecker.needles
    assert "backend" in engine.checker_class("backend").needles
    assert {"BatchNormalization", "SyncBatchNormalization"} <= batchnorm.BatchNormChecker.needles
    needles = attention.AttentionChecker.needles
    assert attention.REMOVED_ATTRIBUTES | attention.OVERRIDE_HOOKS | {"Attention", "AdditiveAttention"} <= needles
    assert set(layer_init.STILL_ACCEPTED) | {"name", "Layer"} <= layer_init.LayerInitChecker.needles
    assert "pad_sequences" in rnn_padding.RnnPaddingChecker.needles
    # every backend function is reached through `keras.backend`
    assert all(_backend_ops.lookup(fn) is not None for fn in ("sum", "argmax", "get_session"))


def test_keras_code_without_the_words_skips_these_checkers() -> None:
    text = "import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.compile('adam', 'mse')\n"
    assert engine.screen(OWN_RULES, text) == frozenset()
    # a string or comment holding a needle word is enough (the screen is conservative)
    assert "KM237" in engine.screen(OWN_RULES, text + "# pad_sequences\n")
