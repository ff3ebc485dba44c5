"""Benchmark of the verification worker: start-up time and time per probe after start-up.

    python benchmarks/verify_bench.py [--rounds 3]

Start-up is the time from spawning the worker to its "ready" line (TensorFlow, tf_keras and
keras imported, first layer and optimizer step done). Per-probe time is measured in the parent,
request to answer, over a mix of probe kinds; the goal is a median under one second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kmigrate.verify.client import Worker  # noqa: E402
from kmigrate.verify.spec import ProbeSpec, Unit  # noqa: E402

TF = "import tensorflow as tf\nfrom tensorflow import keras\n"
CUSTOM = TF + '''
class Gate(keras.layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(input_shape[-1], 4), initializer="glorot_uniform")

    def call(self, inputs):
        return keras.activations.hard_sigmoid(tf.matmul(inputs, self.w))
'''
SCHEDULE = "keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-4)"

CASES: list[tuple[str, Unit, Unit]] = [
    ("Dense", Unit(TF, "keras.layers.Dense(16, activation='relu')"), Unit(TF, "keras.layers.Dense(16, activation='relu')")),
    ("Conv2D", Unit(TF, "keras.layers.Conv2D(8, 3, padding='same')"), Unit(TF, "keras.layers.Conv2D(8, 3, padding='same')")),
    ("LSTM", Unit(TF, "keras.layers.LSTM(8, return_sequences=True)"), Unit(TF, "keras.layers.LSTM(8, return_sequences=True)")),
    ("BatchNormalization", Unit(TF, "keras.layers.BatchNormalization()"), Unit(TF, "keras.layers.BatchNormalization()")),
    ("custom layer", Unit(CUSTOM, "Gate()"), Unit(CUSTOM, "Gate()")),
    ("SGD decay -> InverseTimeDecay", Unit(TF, "keras.optimizers.SGD(0.1, momentum=0.9, decay=1e-4)", True),
     Unit(TF, f"keras.optimizers.SGD({SCHEDULE}, momentum=0.9)")),
    ("Adam", Unit(TF, "keras.optimizers.Adam(1e-3)"), Unit(TF, "keras.optimizers.Adam(1e-3)")),
    ("EarlyStopping", Unit(TF, "keras.callbacks.EarlyStopping(monitor='val_loss')"),
     Unit(TF, "keras.callbacks.EarlyStopping(monitor='val_loss')")),
    ("hard_sigmoid", Unit(TF, "keras.activations.hard_sigmoid"), Unit(TF, "keras.activations.hard_sigmoid")),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name, _, _ in CASES}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in CASES}
    verdicts: dict[str, str] = {}
    with Worker(timeout=120) as worker:
        began = time.perf_counter()
        worker.start()
        startup = time.perf_counter() - began
        for _ in range(args.rounds):
            for name, before, after in CASES:
                result = worker.probe(ProbeSpec(name, before, after))
                times[name].append(result.seconds)
                cpu[name].append(result.cpu_seconds or 0.0)
                verdicts[name] = result.verdict.kind
        versions = ", ".join(f"{k} {v}" for k, v in sorted(worker.versions.items()))
        startup_cpu = worker.startup_cpu_seconds
    every = [t for ts in times.values() for t in ts]
    every_cpu = [t for ts in cpu.values() for t in ts]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at the end")
    print(f"worker start-up: {startup:.2f} s wall, {startup_cpu or 0:.2f} s CPU ({versions})")
    for name, ts in times.items():
        print(f"  {name:<32} median {statistics.median(ts):.3f} s wall, "
              f"{statistics.median(cpu[name]):.3f} s CPU  ({verdicts[name]})")
    print(f"median per probe after start-up: {statistics.median(every):.3f} s wall, "
          f"{statistics.median(every_cpu):.3f} s CPU over {len(every)} probes ({args.rounds} rounds); "
          f"max {max(every):.3f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
