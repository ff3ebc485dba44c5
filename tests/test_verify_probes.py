"""The probes, run for real in one worker: before under Keras 2, after under Keras 3."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from kmigrate.verify.client import Worker
from kmigrate.verify.spec import ProbeSpec, Unit

ROOT = Path(__file__).resolve().parent.parent
HAVE_KERAS = all(importlib.util.find_spec(m) for m in ("tensorflow", "tf_keras", "keras"))
pytestmark = pytest.mark.skipif(not HAVE_KERAS, reason="the verify extra (tensorflow, tf-keras, keras) is not installed")

TF = "import tensorflow as tf\nfrom tensorflow import keras\n"


@pytest.fixture(scope="module")
def worker():
    with Worker(timeout=120) as w:
        yield w


def probe(worker: Worker, before: str, after: str | None = None, *, src: str = TF, src_after: str | None = None,
          legacy: bool = False, timeout: float | None = None):
    spec = ProbeSpec("t", Unit(src, before, legacy), Unit(src_after or src, after or before))
    return worker.probe(spec, timeout=timeout)


def test_decay_rewrites_are_equivalent_and_ignoring_decay_is_not(worker: Worker) -> None:
    schedule = "keras.optimizers.schedules.InverseTimeDecay({}, decay_steps=1, decay_rate={})"
    sgd = probe(worker, "keras.optimizers.SGD(0.1, momentum=0.9, decay=1e-4)",
                f"keras.optimizers.SGD({schedule.format(0.1, 1e-4)}, momentum=0.9)", legacy=True)
    adam = probe(worker, "keras.optimizers.Adam(lr=1e-3, decay=1e-6)",
                 f"keras.optimizers.Adam(learning_rate={schedule.format(1e-3, 1e-6)})", legacy=True)
    for r in (sgd, adam):
        assert r.verdict.kind == "equivalent", r.verdict
        assert r.kind == "optimizer" and r.verdict.max_abs_diff is not None and r.verdict.max_abs_diff <= 1e-5
        assert r.verdict.tolerance == 1e-4
    ignored = probe(worker, "keras.optimizers.SGD(0.1, decay=0.5)", legacy=True)
    assert ignored.verdict.kind == "differs" and ignored.verdict.where.startswith("trajectory step")
    assert ignored.verdict.max_abs_diff > 0.1


def test_lr_keyword_meant_the_legacy_optimizer(worker: Worker) -> None:
    r = probe(worker, "keras.optimizers.RMSprop(lr=0.05)", "keras.optimizers.RMSprop(learning_rate=0.05)", legacy=True)
    assert r.verdict.kind == "equivalent", r.verdict


def test_layers(worker: Worker) -> None:
    hs = probe(worker, "keras.layers.Dense(4, activation='hard_sigmoid')")
    assert hs.verdict.kind == "differs" and hs.verdict.where == "output (training=False)"
    assert 1e-2 < hs.verdict.max_abs_diff < 0.2 and hs.shape == (2, 8)
    for clean in ("keras.layers.Dense(4, activation='gelu')", "keras.layers.LSTM(3)",
                  "keras.layers.Embedding(10, 3)", "keras.layers.Dropout(0.5)", "keras.layers.Add()",
                  "keras.layers.MultiHeadAttention(2, 4)", "keras.layers.BatchNormalization()"):
        r = probe(worker, clean)
        assert r.verdict.kind == "equivalent", (clean, r.verdict)
        assert r.kind == "layer" and r.verdict.max_abs_diff <= 1e-5


def test_layer_regularization_losses_are_compared(worker: Worker) -> None:
    r = probe(worker, "keras.layers.Dense(4, kernel_regularizer=keras.regularizers.l1_l2())")
    assert r.verdict.kind == "differs" and r.verdict.where == "regularization losses"


def test_batchnorm_moving_variance_after_training_steps(worker: Worker) -> None:
    r = worker.probe(ProbeSpec("bn", Unit(TF, "keras.layers.BatchNormalization(momentum=0.0)"),
                               Unit(TF, "keras.layers.BatchNormalization(momentum=0.0)"), shapes=((2, 2, 2, 3),)))
    assert r.verdict.kind == "differs", r.verdict
    assert r.verdict.where.startswith(("output after training", "weights after training"))


def test_activation_compat_function_and_values_on_a_grid(worker: Worker) -> None:
    compat = "import keras\ndef hard_sigmoid_k2(x):\n    return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)\n"
    same = probe(worker, "keras.activations.hard_sigmoid", "hard_sigmoid_k2", src_after=compat)
    assert same.verdict.kind == "equivalent" and same.kind == "function"
    renamed = probe(worker, "keras.activations.hard_sigmoid")
    assert renamed.verdict.kind == "differs"


def test_callbacks_regularizers_losses_metrics_schedules(worker: Worker) -> None:
    rl = probe(worker, "keras.callbacks.ReduceLROnPlateau(epsilon=0.5)")
    assert rl.verdict.kind == "differs" and "improvement" in rl.verdict.where
    fixed = probe(worker, "keras.callbacks.ReduceLROnPlateau(epsilon=0.5)", "keras.callbacks.ReduceLROnPlateau(min_delta=0.5)")
    assert fixed.verdict.kind == "equivalent", fixed.verdict
    assert probe(worker, "keras.callbacks.EarlyStopping(monitor='val_loss', mode='min')").verdict.kind == "equivalent"
    assert probe(worker, "keras.regularizers.l1_l2()").verdict.kind == "differs"
    assert probe(worker, "keras.regularizers.l1_l2()", "keras.regularizers.l1_l2(l1=0.01, l2=0.01)").verdict.kind == "equivalent"
    assert probe(worker, "keras.losses.CategoricalCrossentropy()").verdict.kind == "equivalent"
    assert probe(worker, "keras.metrics.CategoricalAccuracy()").verdict.kind == "equivalent"
    assert probe(worker, "keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)").verdict.kind == "equivalent"
    assert probe(worker, "keras.optimizers.Lion()").verdict.kind == "differs"


def test_keras3_failure_is_a_difference_and_keras2_failure_is_unverifiable(worker: Worker) -> None:
    r = probe(worker, "keras.optimizers.Adam(lr=0.1)", legacy=True)
    assert r.verdict.kind == "differs" and r.verdict.where == "construction" and "ValueError" in r.verdict.detail
    r = probe(worker, "keras.layers.Dense(4, nonsense_argument=1)")
    assert r.verdict.kind == "unverifiable" and "Keras 2" in r.verdict.detail


def test_crash_hang_and_import_failure_are_reported_per_probe_and_the_run_goes_on(worker: Worker) -> None:
    crash = probe(worker, "os._exit(3)", src="import os\n")
    assert crash.verdict.kind == "unverifiable" and "crashed" in crash.verdict.detail
    hang = probe(worker, "time.sleep(600)", src="import time\n", timeout=3)
    assert hang.verdict.kind == "unverifiable" and "timeout" in hang.verdict.detail
    missing = probe(worker, "helper", src="from kmigrate_no_such_package import helper\n")
    assert missing.verdict.kind == "unverifiable" and "ModuleNotFoundError" in missing.verdict.detail
    assert probe(worker, "keras.layers.Dense(2)").verdict.kind == "equivalent"
    assert worker.restarts >= 2


def test_a_worker_that_cannot_start_makes_every_probe_unverifiable() -> None:
    with Worker(python="/nonexistent/python") as broken:
        for _ in range(2):
            r = broken.probe(ProbeSpec("t", Unit(TF, "1"), Unit(TF, "1")))
            assert r.verdict.kind == "unverifiable" and "cannot start" in r.verdict.detail


def test_every_keras_spelling_is_bound_to_the_side_s_keras() -> None:
    code = r'''
from kmigrate.verify import sandbox
src = """
import tensorflow as tf
import tensorflow.keras.layers as L
from tensorflow import keras as tk
from tensorflow.keras.layers import Dense
from keras.optimizers import SGD
import keras
import tf_keras
from tensorflow.keras import backend as K
from tensorflow.python.keras.layers import Dense as PD
from tensorflow.compat import v1
import tensorflow.compat.v2 as tf2
spellings = [tf.keras.layers.Dense, L.Dense, tk.layers.Dense, Dense, keras.layers.Dense, tf_keras.layers.Dense,
             PD, v1.keras.layers.Dense, tf2.keras.layers.Dense]
"""
for side, root in (("k2", "tf_keras"), ("k3", "keras")):
    ns = sandbox.run_unit(side, src, legacy_optimizers=True)
    assert all(d.__module__.split(".")[0] == root for d in ns["spellings"]), (side, ns["spellings"])
    assert ns["K"].__name__.split(".")[0] == root
    assert ("legacy" in ns["SGD"].__module__) == (side == "k2"), ns["SGD"]
    assert ns["tf"].constant(1.0).numpy() == 1.0
# Keras 2 private modules resolve on the Keras 2 side (and fail on the Keras 3 side, as they do).
ns = sandbox.run_unit("k2", "from keras.engine.base_layer import Layer\nimport tf_keras\nfrom keras.layers import core\n")
assert ns["Layer"] is ns["tf_keras"].layers.Layer and ns["core"].Dense is ns["tf_keras"].layers.Dense
try:
    sandbox.run_unit("k3", "from keras.engine.base_layer import Layer\n")
except ImportError:
    pass
else:
    raise AssertionError("keras.engine resolved under Keras 3")
'''
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=300)
