"""``kmigrate fix --verify`` and ``kmigrate verify``, end to end with real probes."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from kmigrate import cli
from kmigrate.catalogue import load_rules
from kmigrate.verify.api import Prober
from kmigrate.verify.client import Worker

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "verify"
TEST_RULES = Path(__file__).resolve().parent / "data" / "verify_rules"
HAVE_KERAS = all(importlib.util.find_spec(m) for m in ("tensorflow", "tf_keras", "keras"))
pytestmark = pytest.mark.skipif(not HAVE_KERAS, reason="the verify extra (tensorflow, tf-keras, keras) is not installed")

OPTIMIZERS = """\
import tensorflow as tf
from tensorflow import keras

sgd = keras.optimizers.SGD(0.1, momentum=0.9, decay=1e-4)
adam = keras.optimizers.Adam(lr=1e-3, decay=1e-6)
"""


@pytest.fixture(scope="module")
def shared_worker():
    """One worker for the whole module, shared by every CLI run in it."""
    with Worker(timeout=120) as worker:
        Prober.shared_worker = worker
        try:
            yield worker
        finally:
            Prober.shared_worker = None


@pytest.fixture
def with_argmax_rule(monkeypatch: pytest.MonkeyPatch):
    """Add the test-only rule KM199 (a wrong `K.argmax` -> `keras.ops.argmax` rename)."""
    spec = importlib.util.spec_from_file_location("kmigrate.checkers.verify_test_argmax", TEST_RULES / "verify_test_argmax.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "kmigrate.checkers.verify_test_argmax", module)
    spec.loader.exec_module(module)
    extra = load_rules(TEST_RULES)

    def set_rules(intended: str = "") -> None:
        rules = tuple(dataclasses.replace(r, intended_difference=intended) for r in extra)
        monkeypatch.setattr(cli, "load_rules", lambda directory=None, cache_dir=None: load_rules() + rules)

    set_rules()
    return set_rules


def _json(out: str) -> dict:
    return json.loads(out)


def test_fix_verify_proves_the_decay_rewrites(tmp_path: Path, run_cli, shared_worker) -> None:
    target = tmp_path / "train.py"
    target.write_text(OPTIMIZERS)
    code, out, _ = run_cli("fix", "--verify", "--format", "json", target)
    payload = _json(out)
    decay = [d for d in payload["diagnostics"] if d["code"] == "KM101"]
    assert len(decay) == 2
    for d in decay:
        verified = d["fix"]["verified"]
        assert verified["verdict"] == "equivalent", verified
        assert verified["max_abs_diff"] is not None and verified["max_abs_diff"] <= 1e-4
        assert verified["tolerance"] == 1e-4
    assert payload["files"] and "InverseTimeDecay" in payload["files"][0]["diff"]
    assert code == 1  # a diff is pending (nothing written without --apply)

    code, out, err = run_cli("fix", "--verify", "--format", "concise", target)
    assert "+adam = keras.optimizers.Adam(learning_rate=" in out  # the diff, on stdout
    assert "train.py:4:" in err and "KM101 fix equivalent (max abs diff" in err
    code, out, _ = run_cli("fix", "--verify", "--apply", "--format", "full", target)
    assert "InverseTimeDecay(1e-3, decay_steps=1, decay_rate=1e-6)" in target.read_text()


def test_fix_verify_holds_back_a_rewrite_that_differs(tmp_path: Path, run_cli, shared_worker, with_argmax_rule) -> None:
    target = tmp_path / "argmax.py"
    shutil.copy(FIXTURES / "argmax.py", target)
    before = target.read_text()
    code, out, _ = run_cli("fix", "--verify", "--select", "KM199", "--format", "json", target)
    payload = _json(out)
    assert len(payload["diagnostics"]) == 2
    for d in payload["diagnostics"]:
        verified = d["fix"]["verified"]
        assert verified["verdict"] == "differs", verified
        assert "shape" in verified["detail"]
    assert payload["files"] == [] and payload["summary"]["fixes_applied"] == 0

    # --unsafe-fixes alone does not apply it: the rule does not declare the difference intended
    run_cli("fix", "--verify", "--select", "KM199", "--unsafe-fixes", "--apply", target)
    assert target.read_text() == before
    # Without --verify the (wrong) rewrite goes through: that is what verification prevents.
    run_cli("fix", "--select", "KM199", "--apply", target)
    assert "keras.ops.argmax" in target.read_text()


def test_fix_verify_applies_an_intended_difference_only_with_unsafe_fixes(
    tmp_path: Path, run_cli, shared_worker, with_argmax_rule
) -> None:
    with_argmax_rule("Keras 3 reduces over all axes; the caller wants the flat index.")
    target = tmp_path / "argmax.py"
    shutil.copy(FIXTURES / "argmax.py", target)
    run_cli("fix", "--verify", "--select", "KM199", "--apply", target)
    assert "keras.ops.argmax" not in target.read_text()
    run_cli("fix", "--verify", "--select", "KM199", "--unsafe-fixes", "--apply", target)
    assert "keras.ops.argmax" in target.read_text()


def _verify(run_cli, *args: object) -> tuple[int, dict]:
    code, out, _ = run_cli("verify", "--format", "json", *args)
    return code, _json(out)


def test_verify_measures_hard_sigmoid_and_convlstm_and_passes_clean_code(run_cli, shared_worker) -> None:
    code, payload = _verify(run_cli, FIXTURES / "hard_sigmoid_layer.py")
    [gate] = payload["outcomes"]
    assert code == 1 and gate["verdict"] == "differs" and gate["label"] == "class GatedProjection"
    assert 3e-2 < gate["max_abs_diff"] < 1.2e-1  # the catalogue's ~6e-2 (entry 3)
    assert gate["where"] == "output (training=False)" and gate["input_shape"] == [2, 8]

    code, payload = _verify(run_cli, FIXTURES / "convlstm.py")
    [conv] = payload["outcomes"]
    assert code == 1 and conv["verdict"] == "differs"
    assert 3e-3 < conv["max_abs_diff"] < 1e-1  # the catalogue's ~1e-2 (entry 4)
    assert conv["input_shape_source"] == "the code (Input shape)"

    code, payload = _verify(run_cli, FIXTURES / "clean_layer.py")
    [clean] = payload["outcomes"]
    assert code == 0 and clean["verdict"] == "equivalent" and clean["max_abs_diff"] <= 1e-5
    assert clean["input_shape_source"] == "hint comment"


def test_verify_reports_crash_hang_and_import_failure_per_probe(run_cli, shared_worker) -> None:
    code, payload = _verify(run_cli, "--timeout", "4", FIXTURES / "misbehaving.py")
    by_label = {o["label"]: o for o in payload["outcomes"]}
    assert "crashed" in by_label["class Crashes"]["detail"]
    assert "timeout" in by_label["class Hangs"]["detail"]
    assert "ModuleNotFoundError" in by_label["class NeedsMissingImport"]["detail"]
    assert all(by_label[k]["verdict"] == "unverifiable" for k in ("class Crashes", "class Hangs", "class NeedsMissingImport"))
    assert by_label["class Doubles"]["verdict"] == "equivalent"
    assert code == 0


def test_verify_full_format_names_the_numbers(run_cli, shared_worker) -> None:
    code, out, _ = run_cli("verify", FIXTURES / "hard_sigmoid_layer.py")
    assert code == 1
    assert "DIFFERS class GatedProjection" in out and "max abs diff" in out and "default ladder" in out
    assert "1 differ" in out


def test_verify_simulates_callbacks(run_cli, shared_worker) -> None:
    code, payload = _verify(run_cli, FIXTURES / "lr_callback.py")
    by_label = {o["label"].split("(")[0]: o for o in payload["outcomes"]}
    warm = by_label["class WarmUp"]
    assert warm["verdict"] == "differs" and warm["where"].startswith("lr after on_epoch_begin")
    assert by_label["keras.callbacks.ReduceLROnPlateau"]["verdict"] == "differs"  # epsilon= is dropped
    assert by_label["keras.callbacks.EarlyStopping"]["verdict"] == "equivalent"
    assert code == 1


def test_fix_verify_proves_the_lr_attribute_fix_in_a_callback(tmp_path: Path, run_cli, shared_worker) -> None:
    target = tmp_path / "warmup.py"
    shutil.copy(FIXTURES / "lr_callback.py", target)
    code, out, _ = run_cli("fix", "--verify", "--select", "KM102", "--format", "json", target)
    [d] = _json(out)["diagnostics"]
    assert d["fix"]["verified"]["verdict"] == "equivalent", d["fix"]["verified"]
