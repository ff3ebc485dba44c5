"""Saving rules across codes: one finding per call, and fixed code is not re-flagged."""

from __future__ import annotations

from pathlib import Path

from kmigrate.catalogue import load_rules
from kmigrate.runner import check_text
from kmigrate.versions import Target

ROOT = Path(__file__).resolve().parent.parent
SAVING = {r.code: r for r in load_rules() if r.code in {"KM251", "KM252", "KM253", "KM254", "KM255", "KM370"}}


def codes(text: str) -> list[tuple[int, str]]:
    return sorted((d.span.line, d.code) for d in check_text(text, "x.py", SAVING, Target()))


def test_load_weights_of_a_tf_checkpoint_is_one_km253_finding() -> None:
    text = 'import keras\nmodel.load_weights("w.ckpt")\n'
    assert codes(text) == [(2, "KM253")]


def test_km253_fixed_file_is_not_a_keras2_file() -> None:
    after = (ROOT / "fixtures" / "rules" / "KM253" / "after.py").read_text(encoding="utf-8")
    assert not [c for c in codes(after) if c[1] in ("KM252", "KM254")]


def test_files_written_here_are_not_keras2_files() -> None:
    text = (
        "import keras\n"
        'model.save_weights("m.weights.h5")\nmodel.load_weights("m.weights.h5")\n'
        'model.save("m.keras")\nm = keras.models.load_model("m.keras")\n'
        'model.save(p)\nm = keras.models.load_model(p)\n'
        'model.save(f"{d}/m.h5")\nm = keras.models.load_model(f"{d}/m.h5")\n'
    )
    assert codes(text) == []
