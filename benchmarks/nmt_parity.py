"""Reported versus real accuracy of the NMT encoder-decoder case, across Keras versions.

    python benchmarks/nmt_parity.py [--old-keras 3.4.1] [--set EPOCHS=4 ...] [--json FILE]

Runs ``fixtures/cases/nmt_encoder_decoder/translate.py`` (the Keras 2 program) and
``translate_fixed.py`` (what the fix for catalogue entry 61 turns it into) under
  (a) Keras 2: tf_keras, selected with ``TF_USE_LEGACY_KERAS=1``,
  (b) an old Keras 3 (default 3.4.1), installed side by side (``keras_side_by_side.py``),
  (c) the Keras 3 installed in this environment,
each program in its own child process. The programs run unmodified through their ``main()``;
the child only wraps the model's ``fit`` and ``evaluate`` to keep what they return and the
data they were given, and then recomputes accuracy by hand from ``model.predict``: argmax over
the real target tokens only (``y != 0``), and over all positions including padding.

Keras 3.0-3.11 compiled metrics ignore the output mask, so there the unfixed program reports
"real accuracy x fraction of real tokens"; the fixed program must report the real accuracy
everywhere. ``--set NAME=VALUE`` overrides a module-level constant of the programs
(``N_TRAIN``, ``EPOCHS``, ...) before ``main()`` runs; the tests use it for a tiny model.

The module imports no TensorFlow; the children do.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.keras_side_by_side import ensure_keras, keras_env  # noqa: E402

CASE_DIR = ROOT / "fixtures" / "cases" / "nmt_encoder_decoder"
UNFIXED = CASE_DIR / "translate.py"
FIXED = CASE_DIR / "translate_fixed.py"
OLD_KERAS = "3.4.1"
_TAG = "NMT_PARITY_RESULT "


@dataclass(frozen=True)
class Flavour:
    """Which Keras ``tf.keras`` resolves to in a child process."""

    label: str
    legacy: bool = False  # True: tf_keras (Keras 2)
    keras_path: Path | None = None  # a side-by-side Keras 3; None: the installed one

    def env(self) -> dict[str, str]:
        env = keras_env(self.keras_path)
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        if self.legacy:
            env["TF_USE_LEGACY_KERAS"] = "1"
        return env


@dataclass(frozen=True)
class Measurement:
    """One program trained once; accuracies are fractions, losses are mean cross-entropy."""

    program: str
    keras_version: str  # of the package behind tf.keras (tf_keras or keras)
    keras_file: str
    tf_version: str
    metric_keys: tuple[str, ...]  # the History keys
    reported_val_accuracy: float  # History["val_accuracy"], last epoch
    reported_val_loss: float
    train_loss: tuple[float, ...]  # History["loss"], every epoch
    reported_test_accuracy: float  # what the program's evaluate() returned
    val_masked_accuracy: float  # by hand, real tokens only
    val_all_accuracy: float  # by hand, every position (padding included)
    val_real_fraction: float  # real tokens / all positions
    val_masked_loss: float  # by hand, mean cross-entropy over real tokens
    test_masked_accuracy: float
    seconds: float  # main(), wall clock

    @property
    def masked_times_real(self) -> float:
        return self.val_masked_accuracy * self.val_real_fraction


class WorkerError(RuntimeError):
    pass


def run_worker(
    flavour: Flavour,
    programs: list[Path],
    overrides: dict[str, object] | None = None,
    timeout: float = 1200,
) -> list[Measurement]:
    """Train each program once, in order, in one child process under ``flavour``."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    command += [str(p) for p in programs]
    for name, value in (overrides or {}).items():
        command += ["--set", f"{name}={value!r}"]
    try:
        proc = subprocess.run(
            command, env=flavour.env(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkerError(f"{flavour.label}: no result after {timeout:.0f} s") from exc
    results = [
        json.loads(line[len(_TAG):]) for line in proc.stdout.splitlines() if line.startswith(_TAG)
    ]
    if proc.returncode != 0 or len(results) != len(programs):
        raise WorkerError(
            f"{flavour.label}: worker exited {proc.returncode} with {len(results)} of "
            f"{len(programs)} results\n--- stderr (tail) ---\n{proc.stderr[-4000:]}"
        )
    for r in results:
        r["metric_keys"], r["train_loss"] = tuple(r["metric_keys"]), tuple(r["train_loss"])
    return [Measurement(**r) for r in results]


# --------------------------------------------------------------------------- child process


def _worker(programs: list[str], overrides: dict[str, object]) -> None:
    import contextlib
    import importlib
    import importlib.util
    import inspect
    import io

    import numpy as np
    import tensorflow as tf

    keras_pkg = importlib.import_module(tf.keras.__name__.split(".")[0])
    out = sys.stdout
    for index, program in enumerate(programs):
        spec = importlib.util.spec_from_file_location(f"nmt_program_{index}", program)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, value in overrides.items():
            if not (name.isupper() and hasattr(module, name)):
                raise SystemExit(f"{program} has no module constant {name}")
            setattr(module, name, value)

        calls: dict[str, object] = {}
        build_model = module.build_model

        def build_and_watch(*args, _build=build_model, **kwargs):
            model = _build(*args, **kwargs)
            for method in ("fit", "evaluate"):
                bound = getattr(model, method)
                signature = inspect.signature(bound)

                def watched(*a, _bound=bound, _sig=signature, _name=method, **k):
                    calls[_name + "_args"] = _sig.bind(*a, **k).arguments
                    calls[_name] = result = _bound(*a, **k)
                    return result

                setattr(model, method, watched)
            calls["model"] = model
            return model

        module.build_model = build_and_watch
        start = time.perf_counter()
        # the program's prints and progress bars must not mix with the result lines
        with contextlib.redirect_stdout(io.StringIO()):
            module.main()
        seconds = time.perf_counter() - start

        model = calls["model"]
        history = calls["fit"].history
        x_valid, y_valid = calls["fit_args"]["validation_data"][:2]
        x_test, y_test = calls["evaluate_args"]["x"], calls["evaluate_args"]["y"]
        evaluated = calls["evaluate"]

        def by_hand(x, y):
            proba = model.predict(x, batch_size=256, verbose=0)
            y = np.asarray(y)
            real = y != 0
            hits = proba.argmax(-1) == y
            p_true = np.take_along_axis(proba, y[..., None], axis=-1)[..., 0]
            nll = -np.log(np.clip(p_true, 1e-7, 1.0))
            return (float(hits[real].mean()), float(hits.mean()), float(real.mean()),
                    float(nll[real].mean()))

        val_masked, val_all, val_real, val_nll = by_hand(x_valid, y_valid)
        test_masked = by_hand(x_test, y_test)[0]
        result = Measurement(
            program=Path(program).name,
            keras_version=keras_pkg.__version__,
            keras_file=keras_pkg.__file__,
            tf_version=tf.__version__,
            metric_keys=tuple(history),
            reported_val_accuracy=float(history["val_accuracy"][-1]),
            reported_val_loss=float(history["val_loss"][-1]),
            train_loss=tuple(float(v) for v in history["loss"]),
            reported_test_accuracy=float(evaluated[1]),
            val_masked_accuracy=val_masked,
            val_all_accuracy=val_all,
            val_real_fraction=val_real,
            val_masked_loss=val_nll,
            test_masked_accuracy=test_masked,
            seconds=round(seconds, 2),
        )
        out.write(_TAG + json.dumps(asdict(result)) + "\n")
        out.flush()


# --------------------------------------------------------------------------- benchmark


def _table(rows: list[tuple[str, Measurement]]) -> str:
    header = (
        "| Keras | program | reported val_accuracy | masked accuracy (hand) | all-positions "
        "accuracy (hand) | masked x real fraction | reported val_loss | masked CE (hand) | "
        "reported test accuracy | main() s |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for label, m in rows:
        lines.append(
            f"| {label} | {m.program} | {m.reported_val_accuracy:.4f} | "
            f"{m.val_masked_accuracy:.4f} | {m.val_all_accuracy:.4f} | "
            f"{m.masked_times_real:.4f} | {m.reported_val_loss:.4f} | {m.val_masked_loss:.4f} | {m.reported_test_accuracy:.4f} | {m.seconds:.1f} |"
        )
    return "\n".join(lines)


def _verdicts(rows: list[tuple[str, Measurement]], old_label: str) -> list[str]:
    out = []
    fixed = [(label, m) for label, m in rows if m.program == FIXED.name]
    worst = max(abs(m.reported_val_accuracy - m.val_masked_accuracy) for _, m in fixed)
    out.append(f"fixed program, |reported - masked| (validation), worst over versions: {worst:.2e}")
    worst_test = max(abs(m.reported_test_accuracy - m.test_masked_accuracy) for _, m in fixed)
    out.append(
        f"fixed program, |evaluate() - masked| (test), worst over versions: {worst_test:.2e}"
    )
    for label, m in rows:
        if label == old_label and m.program == UNFIXED.name:
            out.append(
                f"unfixed on {label}: reported {m.reported_val_accuracy:.4f} = all-positions "
                f"{m.val_all_accuracy:.4f}; masked x real fraction = {m.masked_times_real:.4f}; "
                f"reported / masked = {m.reported_val_accuracy / m.val_masked_accuracy:.3f}"
            )
    by_label: dict[str, dict[str, Measurement]] = {}
    for label, m in rows:
        by_label.setdefault(label, {})[m.program] = m
    for label, pair in by_label.items():
        if len(pair) == 2:
            a, b = pair[UNFIXED.name].train_loss, pair[FIXED.name].train_loss
            diff = max(abs(x - y) for x, y in zip(a, b))
            out.append(
                f"{label}: training loss, fixed vs unfixed, max |diff| over epochs: {diff:.2e}"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs="+", metavar="PROGRAM", help=argparse.SUPPRESS)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--old-keras", default=OLD_KERAS, help="side-by-side Keras 3 version")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".kmigrate_cache")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    args = parser.parse_args(argv)
    overrides: dict[str, object] = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = ast.literal_eval(value)
    if args.worker:
        _worker(args.worker, overrides)
        return 0

    started = time.perf_counter()
    old = ensure_keras(args.old_keras, args.cache_dir)
    flavours = [
        Flavour("Keras 2 (tf_keras)", legacy=True),
        Flavour(f"keras {args.old_keras}", keras_path=old),
        Flavour("keras (installed)"),
    ]
    rows: list[tuple[str, Measurement]] = []
    for flavour in flavours:
        for program in (UNFIXED, FIXED):
            (m,) = run_worker(flavour, [program], overrides)
            label = f"tf_keras {m.keras_version}" if flavour.legacy else f"keras {m.keras_version}"
            if flavour.keras_path is not None and m.keras_version != args.old_keras:
                raise WorkerError(
                    f"expected keras {args.old_keras}, the child imported {m.keras_file}"
                )
            rows.append((label, m))
            print(f"done: {label} {m.program} ({m.seconds:.0f} s)", file=sys.stderr, flush=True)
    wall = time.perf_counter() - started

    first = rows[0][1]
    print(f"TensorFlow {first.tf_version}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPU cores, {platform.machine()}")
    if overrides:
        print(f"overrides: {overrides}")
    print(f"real-token fraction of the validation targets: {first.val_real_fraction:.4f}\n")
    print(_table(rows))
    print()
    for line in _verdicts(rows, f"keras {args.old_keras}"):
        print(line)
    print(f"\nwall time: {wall:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps([{"keras": label, **asdict(m)} for label, m in rows], indent=1) + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
