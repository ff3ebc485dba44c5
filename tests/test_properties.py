"""Generated and mutated Keras programs through check and fix: no crash, output parses,
a second fix changes nothing."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmigrate.catalogue import load_rules
from kmigrate.diagnostics import FileError
from kmigrate.runner import check_text, process_source
from kmigrate.sources import SourceFile
from kmigrate.versions import Target

RULES = {r.code: r for r in load_rules()}

IMPORTS = st.sampled_from(
    [
        "import tensorflow as tf\nkeras = tf.keras\n",
        "from tensorflow import keras\n",
        "import keras\n",
        "import tf_keras as keras\n",
        "from tensorflow import keras\nfrom tensorflow.keras import backend as K\n",
    ]
)
OPTIMIZER = st.sampled_from(["SGD", "Adam", "RMSprop", "Nadam", "Lion", "Adagrad", "legacy.Adam", "legacy.SGD"])
VALUE = st.sampled_from(["0.1", "1e-3", "1", "lr0", "None", "0.0", "np.float32(0.1)", "sched"])
KWARG = st.sampled_from(["lr", "learning_rate", "decay", "epsilon", "momentum", "jit_compile", "schedule_decay"])
SPACE = st.sampled_from(["", " ", "\n    ", "  # note\n    "])


@st.composite
def optimizer_call(draw) -> str:
    name = draw(OPTIMIZER)
    args = []
    if draw(st.booleans()):
        args.append(draw(VALUE))
    for kw in draw(st.lists(KWARG, max_size=4, unique=True)):
        args.append(f"{kw}={draw(VALUE)}")
    sep = "," + draw(SPACE)
    trailing = "," if args and draw(st.booleans()) else ""
    return f"keras.optimizers.{name}({draw(SPACE).strip(chr(10))}{sep.join(args)}{trailing})"


@st.composite
def program(draw) -> str:
    lines = [draw(IMPORTS), "import numpy as np\n", "lr0 = 0.01\n"]
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            lines.append(f"opt{i} = {draw(optimizer_call())}\n")
        elif kind == 1:
            lines.append(f"opt{i} = {draw(optimizer_call())}\nopt{i}.lr = {draw(VALUE)}\n")
        elif kind == 2:
            lines.append(f"def f{i}(model):\n    model.optimizer.lr = {draw(VALUE)}\n    return model.optimizer.lr\n")
        else:
            lines.append(f"model.compile(optimizer={draw(optimizer_call())}, loss='mse')\n")
    text = "".join(lines)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text


@st.composite
def mutated(draw) -> str:
    """A program with a random slice deleted or duplicated: often invalid syntax."""
    text = draw(program())
    i = draw(st.integers(0, len(text)))
    j = draw(st.integers(i, min(len(text), i + 12)))
    if draw(st.booleans()):
        return text[:i] + text[j:]
    return text[:j] + text[i:j] + text[j:]


def fix(text: str) -> tuple[str, object]:
    src = SourceFile(Path("gen.py"), "gen.py", text, "utf-8", False, text.encode())
    result = process_source(src, RULES, Target(), fix=True, unsafe=True)
    return (result.fixed_text if result.fixed_text is not None else text), result


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(program(), mutated()))
def test_check_and_fix_never_break_code(text: str) -> None:
    diags = check_text(text, "gen.py", RULES, Target())
    assert check_text(text, "gen.py", RULES, Target(), use_screen=False) == diags  # the word screen changes nothing
    try:
        cst.parse_module(text)
        parses = True
    except cst.ParserSyntaxError:
        parses = False
    if not parses:
        assert isinstance(diags, FileError)
        fixed, result = fix(text)
        assert fixed == text and result.error is not None  # never rewrite what does not parse
        return
    assert not isinstance(diags, FileError)
    fixed, result = fix(text)
    cst.parse_module(fixed)  # every result parses
    assert not result.warnings, result.warnings
    again, _ = fix(fixed)
    assert again == fixed  # a second fix changes nothing
