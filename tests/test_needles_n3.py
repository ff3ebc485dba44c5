"""Needle words of the callback, custom-layer, loss, shape, activation and mask checkers.

Each snippet below is flagged by one rule and holds its needle word only where the reasoning
is indirect (an alias in an import, a module alias, a subclass chain, a positional argument).
Every snippet is checked alone, with only its rule enabled, with the word screen on and off:
a needle set that misses the case drops the finding with the screen on.
"""

from __future__ import annotations

import textwrap

import pytest

from kmigrate import engine
from kmigrate.catalogue import load_rules
from kmigrate.diagnostics import FileError
from kmigrate.runner import check_text
from kmigrate.versions import Target

RULES = {r.code: r for r in load_rules()}
CHECKERS = (
    "callback_monitor", "custom_call", "loss_reduction", "model_outputs", "layer_shapes",
    "build_shapes", "activations", "masked_metrics", "rnn_mask",
)

CASES = {
    "KM231 aliased class": ("KM231", """
        from tensorflow.keras.callbacks import EarlyStopping as Stop
        cb = Stop(monitor="val_f1")
    """),
    "KM231 star import": ("KM231", """
        from tensorflow.keras.callbacks import *
        cb = ModelCheckpoint("m.h5", monitor="val_f1")
    """),
    "KM136 module alias": ("KM136", """
        import tensorflow as tf
        cbs = tf.keras.callbacks
        plateau = cbs.ReduceLROnPlateau(cool_down=2)
    """),
    "KM115 aliased base, subclass chain": ("KM115", """
        from tensorflow.keras.layers import Layer as Base
        class Mid(Base):
            pass
        class Leaf(Mid):
            def call(self, x, **kw):
                return x if kw.get("training") else -x
    """),
    "KM115 the mask key only": ("KM115", """
        from tensorflow import keras
        class Gate(keras.layers.Layer):
            def call(self, x, **kw):
                return x * kw["mask"]
    """),
    "KM354 ReductionV2 through losses_utils": ("KM354", """
        from tensorflow.keras.utils import losses_utils
        none = losses_utils.ReductionV2.NONE
    """),
    "KM354 auto in a subclass of an aliased Loss": ("KM354", """
        from tensorflow.keras.losses import Loss as Base
        class Focal(Base):
            def __init__(self):
                super().__init__(reduction="auto")
    """),
    "KM105 module alias": ("KM105", """
        from tensorflow.keras import activations as acts
        y = acts.hard_sigmoid(x)
    """),
    "KM105 string": ("KM105", """
        import tensorflow as tf
        d = tf.keras.layers.Dense(1, activation='hard_sigmoid')
    """),
    "KM106 aliased class": ("KM106", """
        from tensorflow.keras.layers import ConvLSTM2D as Gate
        g = Gate(8, 3)
    """),
    "KM107 aliased function": ("KM107", """
        from tensorflow.keras.regularizers import l1_l2 as elastic
        reg = elastic()
    """),
    "KM108 module alias": ("KM108", """
        import keras
        import tensorflow as tf
        tf1 = tf.compat.v1
        tf1.set_random_seed(1)
    """),
    "KM306 aliased Embedding": ("KM306", """
        from tensorflow import keras
        from tensorflow.keras.layers import Embedding as Emb
        m = keras.Sequential([Emb(10, 2, input_length=3)])
    """),
    "KM307 layer instance": ("KM307", """
        from tensorflow.keras import layers
        d = layers.Dense(3)
        print(d.output_shape)
    """),
    "KM324 list concatenation in compute_output_shape": ("KM324", """
        from tensorflow.keras.layers import Layer as Base
        class Head(Base):
            def compute_output_shape(self, s):
                return s[:-1] + [3]
    """),
    "KM125 aliased Masking": ("KM125", """
        from tensorflow import keras
        from tensorflow.keras.layers import Dense, Masking as Pad
        inp = keras.Input(shape=(None, 3))
        model = keras.Model(inp, Dense(1)(Pad()(inp)))
        model.compile(loss="mse", metrics=["mae"])
    """),
    "KM126 aliased Masking, positional initial state": ("KM126", """
        from tensorflow import keras
        from tensorflow.keras.layers import GRU, Masking as Pad
        x = keras.Input(shape=(None, 3))
        enc_initial_state = keras.Input(shape=(4,))
        y = GRU(4)(Pad()(x), enc_initial_state)
    """),
    # With KM221 enabled, KM220's graph also runs behind KM221's guard, so neither
    # `sample_weight` nor a mask source word is unavoidable: the weights argument is the clue.
    "KM220 validation weights, no sample_weight word": ("KM220+KM221", """
        import numpy as np
        from tensorflow import keras
        ids = keras.Input(shape=(20,), dtype="int32")
        emb = keras.layers.Embedding(500, 16, mask_zero=True)(ids)
        model = keras.Model(ids, keras.layers.Dense(1)(emb))
        model.compile(loss="mse", optimizer="adam", metrics=["mae"])
        model.fit(X, Y, validation_data=(Xv, Yv, np.ones(n)))
    """),
    "KM220 explicit mask, no mask source word, no compile": ("KM220+KM221", """
        import numpy as np
        from tensorflow import keras
        inp = keras.Input(shape=(20, 3))
        model = keras.Model(inp, keras.layers.Dense(1)(inp, mask=padding))
        model.fit(X, Y, sample_weight=np.ones(len(X)))  # see recompile_metrics()
    """),
    "KM221 metrics by position": ("KM221", """
        from tensorflow import keras
        inp = keras.Input(shape=(4,))
        model = keras.Model(inp, [keras.layers.Dense(1)(inp), keras.layers.Dense(1)(inp)])
        model.compile("adam", "mse", ["mae"])  # the metrics, by position
    """),
}


def _found(codes: str, text: str, screened: bool) -> list[tuple[str, object, str]] | tuple[str, str]:
    """Findings with the rules ``codes`` (``KM220+KM221``) enabled."""
    rules = {code: RULES[code] for code in codes.split("+")}
    found = check_text(text, "x.py", rules, Target(), use_screen=screened)
    if isinstance(found, FileError):
        return ("error", found.message)
    return [(d.code, d.span, d.message) for d in found]


@pytest.mark.parametrize("name", CASES)
def test_indirect_spellings_pass_the_screen(name: str) -> None:
    codes, snippet = CASES[name]
    text = textwrap.dedent(snippet).lstrip("\n")
    off = _found(codes, text, screened=False)
    assert isinstance(off, list) and any(c == name[:5] for c, _, _ in off), f"{name}: not flagged"
    assert _found(codes, text, screened=True) == off, f"{name}: the screen dropped the finding"


@pytest.mark.parametrize("module", CHECKERS)
def test_needles_are_whole_words(module: str) -> None:
    needles = engine.checker_class(module).needles
    assert needles, module
    for word in needles:
        assert engine.words(word) == {word}, f"{module}: {word!r} can never be found by the screen"


EXPLICIT_MASK = """
from tensorflow import keras
inp = keras.Input(shape=(None, 3))
model = keras.Model(inp, keras.layers.Dense(1)(inp, mask=padding))
model.compile(loss="mse", metrics=["mae"])
{extra}
"""


@pytest.mark.parametrize("screened", [True, False])
def test_mask_rules_need_a_mask_source_as_a_word(screened: bool) -> None:
    # The graph of KM125 (and KM126) is only built where a mask source is named; a longer
    # identifier that merely contains one of the words does not count, screen on or off.
    inside = EXPLICIT_MASK.format(extra="use_mask_zeros = True  # MaskingLayer")
    assert _found("KM125", inside, screened) == []
    named = EXPLICIT_MASK.format(extra="# no Embedding(mask_zero=True) here")
    assert [c for c, _, _ in _found("KM125", named, screened)] == ["KM125"]
