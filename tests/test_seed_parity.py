"""The NMT encoder-decoder case (catalogue entry 61): the fix makes reported accuracy real.

Trains a tiny version of ``fixtures/cases/nmt_encoder_decoder/translate.py`` and of its fixed
form under tf_keras, under keras 3.4.1 installed side by side (cached in ``.kmigrate_cache/``),
and under the installed keras, one child process per Keras, all three at once. The reference
is accuracy recomputed by hand from ``model.predict`` over the real target tokens (``y != 0``).
"""

from __future__ import annotations

import importlib.util
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

import pytest
from packaging.version import Version

from benchmarks import keras_side_by_side
from benchmarks.keras_side_by_side import DEFAULT_CACHE_DIR, KerasInstallError, ensure_keras
from benchmarks.nmt_parity import FIXED, OLD_KERAS, UNFIXED, Flavour, Measurement, run_worker

TINY = {"N_TRAIN": 256, "N_VALID": 128, "N_TEST": 128, "EPOCHS": 2}
EXACT = 1e-5  # float32 counting noise; one token of the 128 x 40 validation set is 2e-4


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Measurement]]:
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed (the verify extra)")
    try:
        old = ensure_keras(OLD_KERAS, DEFAULT_CACHE_DIR)
    except KerasInstallError as exc:
        pytest.fail(f"could not install keras=={OLD_KERAS} side by side: {exc}")
    flavours = {
        "tf_keras": Flavour("tf_keras", legacy=True),
        "old": Flavour(f"keras {OLD_KERAS}", keras_path=old),
        "current": Flavour("keras"),
    }
    with ThreadPoolExecutor(len(flavours)) as pool:
        futures = {
            key: pool.submit(run_worker, flavour, [UNFIXED, FIXED], TINY, 300)
            for key, flavour in flavours.items()
        }
        return {key: {m.program: m for m in f.result()} for key, f in futures.items()}


def _both(runs, key: str) -> tuple[Measurement, Measurement]:
    return runs[key][UNFIXED.name], runs[key][FIXED.name]


@pytest.mark.parametrize("key", ["tf_keras", "old", "current"])
def test_fix_leaves_training_and_metric_names_alone(runs, key):
    unfixed, fixed = _both(runs, key)
    assert fixed.metric_keys == unfixed.metric_keys
    assert "val_accuracy" in fixed.metric_keys
    # same seed, same data: the weights equal the mask, so training does not change
    assert fixed.train_loss == pytest.approx(unfixed.train_loss, rel=1e-5)
    assert fixed.reported_val_loss == pytest.approx(unfixed.reported_val_loss, rel=1e-5)
    assert fixed.val_masked_accuracy == pytest.approx(unfixed.val_masked_accuracy, abs=1e-3)


@pytest.mark.parametrize("key", ["tf_keras", "old", "current"])
def test_fixed_program_reports_masked_accuracy(runs, key):
    _, fixed = _both(runs, key)
    assert fixed.reported_val_accuracy == pytest.approx(fixed.val_masked_accuracy, abs=EXACT)
    assert fixed.reported_test_accuracy == pytest.approx(fixed.test_masked_accuracy, abs=EXACT)
    # The loss was masked all along: about the mean cross-entropy over real tokens (Keras
    # averages per-batch means, weighted by batch size, hence not exactly).
    assert fixed.reported_val_loss == pytest.approx(fixed.val_masked_loss, rel=0.02)


def test_side_by_side_keras_is_the_old_one(runs):
    unfixed, fixed = _both(runs, "old")
    assert unfixed.keras_version == fixed.keras_version == OLD_KERAS
    assert str(DEFAULT_CACHE_DIR) in unfixed.keras_file


def test_unfixed_program_on_old_keras_counts_padding_as_wrong(runs):
    unfixed, _ = _both(runs, "old")
    # the metric averages over every position, padding included ...
    assert unfixed.reported_val_accuracy == pytest.approx(unfixed.val_all_accuracy, abs=EXACT)
    # ... where the model, trained with a masked loss, never predicts the pad id
    assert unfixed.reported_val_accuracy == pytest.approx(unfixed.masked_times_real, abs=0.01)
    assert unfixed.reported_val_accuracy < 0.5 * unfixed.val_masked_accuracy
    assert unfixed.reported_test_accuracy < 0.5 * unfixed.test_masked_accuracy


def test_unfixed_program_on_tf_keras_reports_masked_accuracy(runs):
    unfixed, _ = _both(runs, "tf_keras")
    assert unfixed.reported_val_accuracy == pytest.approx(unfixed.val_masked_accuracy, abs=EXACT)


def test_unfixed_program_on_current_keras(runs):
    unfixed, _ = _both(runs, "current")
    assert unfixed.keras_version == metadata.version("keras")
    # compiled metrics apply the mask from keras 3.12.0 on
    expected = (
        unfixed.val_masked_accuracy
        if Version(unfixed.keras_version) >= Version("3.12")
        else unfixed.val_all_accuracy
    )
    assert unfixed.reported_val_accuracy == pytest.approx(expected, abs=EXACT)


# --------------------------------------------------------------------------- the installer


def test_ensure_keras_wants_an_exact_version(tmp_path):
    with pytest.raises(ValueError):
        ensure_keras(">=3.4", tmp_path)


def test_concurrent_callers_install_once(tmp_path, monkeypatch):
    installs = []

    def fake_install(version, target):
        installs.append(version)
        time.sleep(0.2)
        (target / "keras").mkdir()
        (target / "keras" / "__init__.py").write_text(f"__version__ = {version!r}\n")

    monkeypatch.setattr(keras_side_by_side, "_pip_install", fake_install)
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: ensure_keras("3.4.1", tmp_path), range(4)))
    assert installs == ["3.4.1"]
    assert paths == [tmp_path / "keras-3.4.1"] * 4
    assert (tmp_path / "keras-3.4.1" / "keras" / "__init__.py").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["keras-3.4.1"]  # no staging left


def test_failed_install_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken_install(version, target):
        (target / "partial").write_text("")
        raise KerasInstallError("no network")

    monkeypatch.setattr(keras_side_by_side, "_pip_install", broken_install)
    with pytest.raises(KerasInstallError):
        ensure_keras("3.4.1", tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]
