"""The parent side of verify, without TensorFlow: extraction, shapes, settings, range mapping."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kmigrate.diagnostics import Diagnostic, Edit, Fix, Span
from kmigrate.verify import settings as vsettings
from kmigrate.verify import specs, units
from kmigrate.verify.locate import Analysed
from kmigrate.verify.shapes import input_shapes, parse_shape
from kmigrate.verify.spec import DEFAULT_SHAPES, VerifySettings

ROOT = Path(__file__).resolve().parent.parent

MODULE = textwrap.dedent(
    '''\
    from __future__ import annotations
    import os, numpy as np
    import tensorflow as tf
    from tensorflow import keras
    from mypkg import unused, helper_const

    SCALE = 0.5
    OFFSET = SCALE * 2
    data = np.load("train.npy")


    def squash(x):
        return tf.tanh(x) * SCALE


    class Base(keras.layers.Layer):
        pass


    class Gate(Base):
        # kmigrate: input-shape=(None, 6)
        def call(self, inputs):
            return squash(inputs) + OFFSET


    model = keras.Sequential([Gate()])
    model.fit(data)

    if __name__ == "__main__":
        model.save("x.keras")
    '''
)


def test_closure_takes_what_the_class_needs_and_nothing_that_runs_work() -> None:
    a = Analysed(MODULE)
    [gate] = [c for c in a.all_constructs() if c.name == "Gate"]
    closure = units.closure(a.statements, gate.entry, before=gate.statement)
    src = closure.source
    for needed in ("from __future__ import annotations", "import tensorflow as tf", "from tensorflow import keras",
                   "SCALE = 0.5", "OFFSET = SCALE * 2", "def squash", "class Base", "class Gate"):
        assert needed in src
    for unwanted in ("np.load", "model.fit", "__main__", "unused", "import os"):
        assert unwanted not in src
    assert not closure.unresolved
    compile(src, "<unit>", "exec")


def test_constructs_found_for_verify() -> None:
    a = Analysed(MODULE)
    names = [c.name for c in a.all_constructs()]
    assert names == ["Base", "Gate", "keras.Sequential"]
    assert a.probe_classes == {"Base", "Gate"}


def test_calls_with_local_names_are_not_constructs() -> None:
    a = Analysed(
        "from tensorflow import keras\nUNITS = 4\n"
        "def build(units):\n    return keras.layers.Dense(units), keras.layers.Dense(UNITS)\n"
        "def shadow(UNITS):\n    return keras.layers.Dense(UNITS)\n"
    )
    assert [c.entry for c in a.all_constructs()] == ["keras.layers.Dense(UNITS)"]


def _diag(text: str, needle: str, edits: tuple[Edit, ...]) -> Diagnostic:
    a = Analysed(text)
    start = text.index(needle)
    line = text.count("\n", 0, start) + 1
    col = start - a.starts[line - 1] + 1
    span = Span(line, col, line, col + len(needle))
    return Diagnostic("m.py", span, "KM000", "x", "silent", "m", (1,), Fix("safe", "t", edits), source_span=span)


def test_fix_inside_a_method_is_probed_as_the_class() -> None:
    text = "from tensorflow.keras import backend as K\nfrom tensorflow import keras\n\n" \
           "class Pick(keras.layers.Layer):\n    def call(self, x):\n        return K.argmax(x)\n"
    d = _diag(text, "K.argmax(x)", ())
    d = Diagnostic(**{**d.__dict__, "fix": Fix("safe", "t", (
        Edit(Span(6, 16, 6, 24), "keras.ops.argmax"), Edit(Span(3, 1, 3, 1), "import keras\n")))})
    located = specs.for_fix(text, d, VerifySettings())
    assert located.spec is not None
    assert located.spec.before.entry == "Pick()" and located.spec.after.entry == "Pick()"
    assert "K.argmax(x)" in located.spec.before.source
    assert "keras.ops.argmax(x)" in located.spec.after.source and "import keras" in located.spec.after.source


def test_fix_on_an_optimizer_call_maps_the_rewritten_call_and_asks_for_legacy() -> None:
    text = "import keras\n\nopt = keras.optimizers.Adam(lr=1e-3, decay=1e-6)\n"
    start = text.index("keras.optimizers.Adam")
    end = text.index(")\n") + 1
    new = "keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.InverseTimeDecay(1e-3, decay_steps=1, decay_rate=1e-6))"
    d = _diag(text, "lr=1e-3", (Edit(Span(3, start - 13, 3, end - 13), new),))
    located = specs.for_fix(text, d, VerifySettings())
    assert located.spec is not None
    assert located.spec.before.entry == "keras.optimizers.Adam(lr=1e-3, decay=1e-6)"
    assert located.spec.before.legacy_optimizers and not located.spec.after.legacy_optimizers
    assert located.spec.after.entry == new


def test_fix_outside_any_construct_is_unverifiable_with_a_reason() -> None:
    text = "import keras\nx = 1\nprint(keras.backend.floatx())\n"
    located = specs.for_fix(text, _diag(text, "keras.backend.floatx()", ()), VerifySettings())
    assert located.spec is None and "encloses" in located.reason


@pytest.mark.parametrize(
    ("start", "end", "edits", "expected"),
    [
        (10, 20, [(0, 0, "import x\n")], (19, 29)),  # insertion above shifts both ends
        (10, 20, [(12, 14, "abcd")], (10, 22)),  # edit inside grows the end
        (10, 20, [(20, 20, "!")], (10, 20)),  # insertion right after is not part of it
        (10, 20, [(5, 12, "")], (5, 13)),  # straddling edit widens the range
    ],
)
def test_map_range(start: int, end: int, edits: list[tuple[int, int, str]], expected: tuple[int, int]) -> None:
    assert specs.map_range(start, end, edits) == expected


def test_needs_legacy() -> None:
    assert specs.needs_legacy("from tensorflow.keras.optimizers import SGD\n", "SGD(lr=0.1)")
    assert specs.needs_legacy("import keras\n", "keras.optimizers.Adam(0.1, decay=1e-4)")
    assert not specs.needs_legacy("import keras\n", "keras.optimizers.Adam(learning_rate=0.1)")
    assert not specs.needs_legacy("import keras\n", "keras.layers.Dense(4)")


def test_input_shapes_in_order_of_precedence() -> None:
    a = Analysed(MODULE)
    gate = next(c for c in a.all_constructs() if c.name == "Gate")
    assert input_shapes(a, gate, VerifySettings()) == (((None, 6),), "hint comment")
    text = "from tensorflow import keras\ninp = keras.Input(shape=(5, 3))\ny = keras.layers.LSTM(4)(inp)\n" \
           "z = keras.layers.Dense(2, input_shape=(7,))\nw = keras.layers.Dense(2)\n"
    a = Analysed(text)
    lstm, dense7, dense = a.all_constructs()
    assert input_shapes(a, lstm, VerifySettings()) == (((None, 5, 3),), "the code (Input shape)")
    assert input_shapes(a, dense7, VerifySettings())[0] == ((None, 7), (None, 5, 7))

    assert input_shapes(a, dense, VerifySettings()) == (DEFAULT_SHAPES, "default ladder")
    configured = VerifySettings(input_shapes=(("Dense", (2, 9)), ("*", (None, 3))))
    assert input_shapes(a, dense, configured)[0] == ((2, 9),)
    assert input_shapes(a, lstm, VerifySettings(input_shapes=(("*", (None, 3)),)))[0] == ((None, 5, 3),)


def test_parse_shape() -> None:
    assert parse_shape("(None, 8)") == (None, 8)
    assert parse_shape("[2, 8, 8, 3]") == (2, 8, 8, 3)
    assert parse_shape("(0, 8)") is None and parse_shape("'x'") is None


def test_settings_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.kmigrate.verify]\ntimeout = 5\nsteps = 12\n"
        "tolerances = { layer = 1e-4, trajectory = [1e-3, 1e-2] }\n"
        "input-shapes = { MyLayer = \"(None, 8)\", \"*\" = [2, 4] }\n"
    )
    (tmp_path / "pkg").mkdir()
    s = vsettings.load(tmp_path / "pkg")
    assert s.timeout == 5 and s.steps == 12
    assert (s.tolerances.layer.atol, s.tolerances.layer.rtol) == (1e-4, 1e-5)
    assert (s.tolerances.trajectory.atol, s.tolerances.trajectory.rtol) == (1e-3, 1e-2)
    assert s.input_shapes == (("MyLayer", (None, 8)), ("*", (2, 4)))
    with pytest.raises(vsettings.VerifyConfigError, match="unknown key"):
        vsettings.from_table({"tolerance": 1})
    with pytest.raises(vsettings.VerifyConfigError, match="input-shapes.X"):
        vsettings.from_table({"input-shapes": {"X": "(a, b)"}})


def test_check_path_and_verify_parent_never_import_tensorflow(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    target.write_text("from tensorflow import keras\nopt = keras.optimizers.SGD(0.1, decay=1e-4)\n")
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom kmigrate.cli import app\n"
        "import kmigrate.verify.api, kmigrate.verify.report, kmigrate.verify.specs\n"
        f"r = CliRunner().invoke(app, ['check', {str(target)!r}])\n"
        "assert r.exit_code == 1, r.output\n"
        "bad = [m for m in ('tensorflow', 'keras', 'tf_keras', 'numpy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_only_activation_like_functions_are_run() -> None:
    text = textwrap.dedent(
        """\
        from tensorflow.keras import backend as K
        def act(x):
            return K.argmax(x)
        def loss(y_true, y_pred, scale=2.0):
            return K.mean(y_true - y_pred) * scale
        def train(model, data, epochs):
            return K.argmax(data)
        def save(x):
            model.save("m.h5")
            return K.argmax(x)
        def touch(x):
            open("f", "w")
            return K.argmax(x)
        """
    )
    a = Analysed(text)
    runnable = {c.name for c in a.enclosing(0, len(text)) if c.kind == "function"}
    for name in ("act", "loss", "train", "save", "touch"):
        start = text.index(f"def {name}")
        found = [c.name for c in a.enclosing(start + 4, start + 5) if c.kind == "function"]
        assert (found == [name]) == (name in ("act", "loss")), (name, found)
    assert runnable == set()


def test_a_fix_that_rewrites_the_whole_statement_still_finds_the_call() -> None:
    text = "import keras\n\nopt = keras.optimizers.SGD(0.1, decay=1e-4)\n"
    new = "opt = keras.optimizers.SGD(keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-4))"
    d = _diag(text, "decay=1e-4", (Edit(Span(3, 1, 3, 44), new),))
    located = specs.for_fix(text, d, VerifySettings())
    assert located.spec is not None
    assert located.spec.after.entry == new[len("opt = "):]


def test_a_fix_that_changes_how_the_construct_is_used_is_not_probed() -> None:
    text = "import keras\nq = keras.Input((3, 4))\nctx = keras.layers.Attention(causal=True)([q, q])\n"
    old = "keras.layers.Attention(causal=True)([q, q])"
    new = "keras.layers.Attention()([q, q], use_causal_mask=True)"
    col = text.splitlines()[2].index(old) + 1
    d = _diag(text, "causal=True", (Edit(Span(3, col, 3, col + len(old)), new),))
    located = specs.for_fix(text, d, VerifySettings())
    assert located.spec is None and "how the construct is used" in located.reason
    # The same fix through edits at the call sites elsewhere in the module.
    text = "import keras\nq = keras.Input((3, 4))\natt = keras.layers.Attention(causal=True)\nctx = att([q, q])\n"
    d = _diag(text, "causal=True", (Edit(Span(3, 30, 3, 41), ""), Edit(Span(4, 17, 4, 17), ", use_causal_mask=True")))
    located = specs.for_fix(text, d, VerifySettings())
    assert located.spec is None and "line 4" in located.reason


def test_shapes_from_layer_arguments() -> None:
    text = ("from tensorflow import keras\na = keras.layers.LSTM(4, batch_input_shape=(1, 5, 3))\n"
            "b = keras.layers.GRU(4, input_dim=3, input_length=10)\n")
    an = Analysed(text)
    lstm, gru = an.all_constructs()
    assert input_shapes(an, lstm, VerifySettings())[0] == ((1, 5, 3),)
    assert input_shapes(an, gru, VerifySettings())[0] == ((None, 10, 3),)
