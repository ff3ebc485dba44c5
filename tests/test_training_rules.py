"""Training-loop rules whose decision depends on the whole module (a fixture file is one module)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kmigrate.catalogue import load_rules
from kmigrate.diagnostics import Diagnostic, FileError
from kmigrate.runner import check_text, process_source
from kmigrate.sources import SourceFile
from kmigrate.versions import Target

RULES = {r.code: r for r in load_rules()}


def check(code: str, *codes: str) -> list[Diagnostic]:
    diags = check_text(textwrap.dedent(code), "t.py", {c: RULES[c] for c in codes}, Target())
    assert not isinstance(diags, FileError), diags
    return diags


def fixed(code: str, *codes: str, unsafe: bool = True) -> str:
    code = textwrap.dedent(code)
    src = SourceFile(Path("t.py"), "t.py", code, "utf-8", False, code.encode())
    result = process_source(src, {c: RULES[c] for c in codes}, Target(), fix=True, unsafe=unsafe)
    assert not result.warnings
    return result.fixed_text if result.fixed_text is not None else code


PADDED = """
from tensorflow import keras
x = keras.preprocessing.sequence.pad_sequences(seqs, maxlen=50)
model = keras.Sequential([keras.layers.Embedding(100, 8{mask}), keras.layers.{rnn}])
"""


def test_cudnn_padding_needs_mask_and_cudnn_rnn() -> None:
    assert check(PADDED.format(mask=", mask_zero=True", rnn="LSTM(4)"), "KM237")
    assert check(PADDED.format(mask=", mask_zero=True", rnn="GRU(4)"), "KM237")
    assert not check(PADDED.format(mask="", rnn="LSTM(4)"), "KM237")
    assert not check(PADDED.format(mask=", mask_zero=False", rnn="LSTM(4)"), "KM237")
    for rnn in (
        "LSTM(4, recurrent_dropout=0.1)",
        "LSTM(4, activation='relu')",
        "LSTM(4, use_cudnn=False)",
        "LSTM(4, unroll=True)",
        "GRU(4, reset_after=False)",
        "SimpleRNN(4)",
    ):
        assert not check(PADDED.format(mask=", mask_zero=True", rnn=rnn), "KM237"), rnn


def test_lr_key_left_alone_when_the_module_logs_lr_itself() -> None:
    code = """
    import tensorflow as tf
    class LogLr(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["lr"] = float(self.model.optimizer.learning_rate)
    history = model.fit(x, y, callbacks=[LogLr()])
    print(history.history["lr"])
    """
    assert not check(code, "KM230")
    assert check(code.replace('logs["lr"] =', 'logs["rate"] ='), "KM230")


def test_monitor_classification_follows_compiled_metrics() -> None:
    es = 'cb = tf.keras.callbacks.EarlyStopping(monitor="{}")\n'
    compiled = 'import tensorflow as tf\nmodel.compile(loss="mse", metrics=["accuracy"])\n'
    # "val_acc" is only a metric name if "acc" was compiled (catalogue 21, c07).
    assert check(compiled + es.format("val_acc"), "KM231")
    assert not check(compiled + es.format("val_accuracy"), "KM231")
    # With the metrics out of sight, built-in names are trusted and custom ones are not.
    unknown = "import tensorflow as tf\nmodel.compile(loss='mse', metrics=METRICS)\n"
    assert not check(unknown + es.format("val_acc"), "KM231")
    assert check(unknown + es.format("val_f1"), "KM231")
    assert not check("import tensorflow as tf\n" + es.format("val_auc"), "KM231")
    # Metric objects of this module are known by their (custom) names.
    objects = "import tensorflow as tf\nroc = tf.keras.metrics.AUC(name='roc')\n"
    assert not check(objects + es.format("val_roc"), "KM231")


def test_jit_rule_respects_an_explicit_choice_and_reports_without_compile() -> None:
    layer = """
    import tensorflow as tf
    class Tok(tf.keras.layers.Layer):
        def call(self, x):
            return tf.strings.length(x)
    """
    alone = check(layer, "KM236")
    assert alone and alone[0].fix is None  # compiled elsewhere: nothing to edit here
    assert not check(layer + 'model.compile(loss="mse", jit_compile=True)\n', "KM236")
    assert "jit_compile=False" in fixed(layer + 'model.compile(loss="mse")\n', "KM236")


def test_reduction_import_removed_once_unused() -> None:
    code = """
    import tensorflow as tf
    from tensorflow.keras.losses import Reduction
    loss = tf.keras.losses.MeanSquaredError(reduction=Reduction.NONE)
    """
    out = fixed(code, "KM354")
    assert "Reduction" not in out
    assert 'MeanSquaredError(reduction="none")' in out


def test_model_reset_states_fix_is_unsafe() -> None:
    code = """
    from tensorflow import keras
    model = keras.Sequential([keras.layers.LSTM(2, stateful=True)])
    model.reset_states()
    """
    assert fixed(code, "KM232", unsafe=False) == textwrap.dedent(code)
    assert "for layer in model.layers:" in fixed(code, "KM232")


def test_workers_move_only_into_forwarding_constructors() -> None:
    code = """
    from tensorflow import keras
    class Old(keras.utils.Sequence):
        def __init__(self, x):
            self.x = x
    model.fit(Old(x), workers=4)
    """
    assert "model.fit(Old(x))" in fixed(code, "KM352")  # alone: dropped
    both = fixed(code, "KM352", "KM355")
    assert "model.fit(Old(x, workers=4))" in both and "super().__init__(**kwargs)" in both


def test_sequence_subclass_of_local_sequence_is_reported_without_fix() -> None:
    code = """
    from tensorflow import keras
    class Base(keras.utils.Sequence):
        def __init__(self, x, **kwargs):
            super().__init__(**kwargs)
            self.x = x
    class Child(Base):
        def __init__(self, x, y):
            self.x, self.y = x, y
    """
    diags = check(code, "KM355")
    assert [d.span.line for d in diags] == [8] and diags[0].fix is None


def test_optimizer_set_weights_needs_keras2_weights_in_sight() -> None:
    code = """
    from tensorflow import keras
    for opt in inner_optimizers:
        opt.set_weights(values[opt.name])
    """
    assert not check(code, "KM235")  # Keras 3 has set_weights for its own layout
    moved = code + "state = model.optimizer.get_weights()\n"
    assert [d.span.line for d in check(moved, "KM235")] == [4, 5]


def test_check_path_does_not_import_tensorflow() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from kmigrate.cli import app; from kmigrate.runner import check_text;"
        "from kmigrate.catalogue import load_rules; from kmigrate.versions import Target;"
        "rules = {r.code: r for r in load_rules()};"
        "check_text(open('fixtures/rules/KM231/before.py').read(), 'x.py', rules, Target());"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", probe], cwd=root, check=True)
