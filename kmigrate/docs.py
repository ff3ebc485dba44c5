"""Generated documentation: the rule index and the migration-guide map.

    python -m kmigrate.docs           # write docs/rules.md and docs/migration-guide.md
    python -m kmigrate.docs --check   # exit 1 when either file is stale

Both pages are built from ``rules/*.toml`` only, so they list every rule present, including
rules added on other branches once merged; ``tests/test_docs.py`` fails when they are stale.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from kmigrate.catalogue import CATALOGUE_SIZE, Rule, load_rules

# The index of the knowledge base (knowledge/catalogue.md), one line per entry.
CATALOGUE: dict[int, str] = {
    1: "Optimizer `decay=` silently ignored",
    2: "`optimizer.lr = x` assignment silently does nothing",
    3: "`hard_sigmoid` redefined (0.2x+0.5 → x/6+0.5)",
    4: "`ConvLSTM{1,2,3}D` default `recurrent_activation` hard_sigmoid → sigmoid",
    5: "`call(self, x, **kwargs)` no longer receives `training`/`mask`",
    6: "`tf.Variable` layer attributes not tracked (not trained, not saved)",
    7: "`regularizers.l1_l2()` defaults 0.01/0.01 → 0.0/0.0",
    8: "BatchNormalization moving variance: Bessel-corrected (fused K2) vs biased (K3)",
    9: "`Lion` default learning_rate 1e-4 → 1e-3",
    10: "`ReduceLROnPlateau(epsilon=…)` (and any unknown kwarg) silently swallowed",
    11: "Legacy `Nadam` momentum schedule differs",
    12: "`dict(zip(model.metrics_names, model.evaluate(...)))` mislabels metrics",
    13: "Naive `K.fn` → `keras.ops.fn` renames change default axes",
    14: "`tf.random.set_seed` no longer seeds Keras dropout/RNG layers",
    15: "Binary cross-entropy clipping differs at saturated probabilities",
    16: "`tf.keras` silently becomes Keras 3 on TF ≥ 2.16",
    17: "`model.save(\"dir\")`/`save_format=\"tf\"`; `load_model(SavedModel)`",
    18: "`save_weights(\"ckpt\"/\"x.h5\")`, TF-checkpoint `load_weights`, `by_name=`",
    19: "Loading files written by tf_keras (.h5 with RNN/compiled losses, .keras, JSON)",
    20: "`history.history[\"lr\"]` / `logs[\"lr\"]` → `\"learning_rate\"`",
    21: "`EarlyStopping`/`ModelCheckpoint` `mode=\"auto\"` can't infer direction",
    22: "`model.reset_states()` removed (stateful RNNs)",
    23: "`metric.reset_states()` removed",
    24: "GPU: cuDNN RNN + left-padded/fully-masked sequences → runtime assert",
    25: "`jit_compile=\"auto\"` = XLA on GPU → unsupported-op errors",
    26: "`Adam/RMSprop(epsilon=None)` → error at first train step",
    27: "Masked sequence output + per-sample `sample_weight` → shape error",
    28: "Multi-output model + flat `metrics=[...]` list → error at first fit/evaluate",
    29: "`optimizer.minimize/get_updates/get_weights` in custom loops",
    30: "`keras.backend` (`K.*`) runtime functions missing",
    31: "Subclassed `Model` without `get_config` cannot be saved to `.keras`",
    32: "Python control flow on tensors in `call()` (no autograph)",
    33: "`layer.input_shape`/`output_shape`; unbuilt Sequential (incl. `Embedding(input_length=)`)",
    34: "Optimizer constructor args: `lr=`, `jit_compile=`, int/np `learning_rate`, …",
    35: "`tf.keras.optimizers.legacy.*`",
    36: "Unknown `Layer.__init__` kwargs: `weights=`, `dynamic=`, `batch_input_shape=`, …",
    37: "`add_weight(\"name\", shape)` positional / TF-only kwargs",
    38: "Custom `Metric.add_weight(\"tp\", …)` / no initializer",
    39: "`build(input_shape)` gets a tuple, not `TensorShape`",
    40: "TF ops on KerasTensors (TFOpLambda removed)",
    41: "`add_update`, `add_metric`, symbolic `model.add_loss/add_metric`",
    42: "`Attention/AdditiveAttention(causal=True)`",
    43: "`MultiHeadAttention._build_from_signature` (subclass hook) removed",
    44: "RNN `time_major`, `constants`, `CuDNNLSTM/GRU`",
    45: "`BatchNormalization(fused=, virtual_batch_size=, adjustment=)`, `SyncBatchNormalization`",
    46: "Layer/variable names containing `/`",
    47: "`compile(sample_weight_mode=, target_tensors=)`, `fit(workers=…)`, `fit_generator`, `reset_metrics=`",
    48: "Loss `reduction=\"auto\"` / `keras.losses.Reduction`",
    49: "Removed layers/args: `ThresholdedReLU`, `LocallyConnected*`, `RandomHeight/Width`, "
        "`DenseFeatures`, `AveragePooling*D()` without `pool_size`",
    50: "`activations.relu(alpha=)`, `LeakyReLU(alpha=)`",
    51: "`ModelCheckpoint` filepath rules, `period=`, `options=`; `save_weights(save_format=)`",
    52: "Functional API: nested inputs, `Input(tensor=tf.Tensor)`, `InputLayer(input_shape=)`",
    53: "`dynamic=True` layers / eager-only `call()` need `compute_output_shape`",
    54: "`keras.utils.Sequence` → `PyDataset` (`super().__init__`, workers)",
    55: "`keras.layers.experimental(.preprocessing)` removed",
    56: "`preprocessing.text.Tokenizer`, `preprocessing.image.ImageDataGenerator`",
    57: "Private/legacy modules (`keras.engine`, `layers.core`, `utils.np_utils`, `wrappers.scikit_learn`, …)",
    58: "Short loss/metric aliases (`losses.mse`, `MSE`, `kld`, `logcosh`, …), `model_from_config/yaml`",
    59: "Mixing `tensorflow.python.keras` / `tf_keras` objects with Keras 3",
    60: "`mixed_precision.experimental`, `LossScaleOptimizer`",
    61: "Compiled metrics ignore the padding mask (keras 3.0–3.11)",
    62: "RNN called with `initial_state=` loses the implicit mask",
}

# Catalogue entries that are deliberately not findings, and why.
NO_FINDING: dict[str, tuple[str, str]] = {
    "15": (CATALOGUE[15], "Keras 2 and Keras 3 agree to 1e-7 except for probabilities clipped at exactly 0 or 1 "
           "(15.42 vs 16.12); there is nothing to rewrite, so no rule reports it. The "
           "`K.binary_crossentropy` rewrite of KM151 is marked unsafe for this reason, and the "
           "equivalence harness compares losses with a tolerance."),
    "A": ("Appendix A: checked and unchanged", "Initializers, optimizers other than legacy Nadam, `accuracy` "
          "resolution, masked-loss normalisation, attention, RNNs on CPU, convolutions, BN inference, "
          "`gelu`, callbacks and more give identical results in both versions; flagging them would be a "
          "false positive by construction."),
    "B": ("Appendix B: notes for the equivalence harness", "Tolerances and procedures for `kmigrate "
          "verify`, not a difference in user code."),
}


@dataclass(frozen=True)
class GuideSection:
    """A section of the official guide, the catalogue entries behind it, and what kmigrate does."""

    title: str
    entries: tuple[int, ...]
    note: str


GUIDE_URL = "https://keras.io/guides/migrating_to_keras_3/"
GUIDE: tuple[tuple[str, tuple[GuideSection, ...]], ...] = (
    ("Going from Keras 2 to Keras 3 with the TensorFlow backend", (
        GuideSection("Replace the imports (`from tensorflow import keras` → `import keras`, `tf.keras.*` → `keras.*`)",
                     (16, 30, 48, 56, 58, 59),
                     "KM150 makes the switch, but only where no symbol that only the `tf.keras` compat namespace "
                     "serves is used (backend math, `Tokenizer`, `losses.Reduction`, ...): the guide's step "
                     "would otherwise turn working code into an ImportError. The rules of those entries remove "
                     "the symbols first."),
        GuideSection("`jit_compile` is set to `True` by default on GPU", (25,),
                     "Statically visible only as TF ops that XLA cannot compile inside `call`/`train_step`; "
                     "whether XLA is used depends on the device at run time."),
        GuideSection("Saving a model in the TF SavedModel format", (17, 31, 51),
                     "`model.save(\"dir\")`, `save_format=`, full-model `ModelCheckpoint` paths and subclassed "
                     "models without `get_config`."),
        GuideSection("Loading a TF SavedModel", (17, 18, 19),
                     "`load_model(\"dir\")`, TF-checkpoint `load_weights`, and Keras 2 `.h5`/JSON files."),
        GuideSection("Using deeply nested inputs in Functional Models", (52,),
                     "Found when the nesting is written out in the `Model(...)` call; the rule states the Keras "
                     "versions that reject it (`kmigrate explain`)."),
        GuideSection("TF autograph", (32,),
                     "Python `if`/`while` on tensors inside `call()`."),
        GuideSection("Calling TF ops with a `KerasTensor`", (40,),
                     "TF ops applied to functional-API tensors."),
        GuideSection("Multi-output model `evaluate()`", (28, 12),
                     "What breaks is a flat `metrics=[...]` list for several outputs and `metrics_names`; keras "
                     "3.15 does report the per-output `*_loss` keys the guide says are gone (catalogue 28)."),
        GuideSection("TensorFlow variables tracking", (6,),
                     "`tf.Variable` assigned to layer attributes."),
        GuideSection("`None` entries in nested `call()` arguments", (),
                     "Not detectable statically: whether an element of a nested argument is `None` is a run-time "
                     "value. Keras 3 raises at the call, so running the code finds it."),
        GuideSection("State-building issues", (),
                     "Not detectable statically: it depends on whether Keras can trace `call()` on symbolic "
                     "inputs (mostly on JAX). Keras 2 code that worked is correct; add a `build()` as the error "
                     "message says. `kmigrate verify` builds custom layers under Keras 3 and surfaces it."),
        GuideSection("Removed features: `ThresholdedReLU`, locally connected layers, `RandomFourierFeatures`, "
                     "`RadialConstraint`", (49, 55), "Each removed class or argument is flagged where used."),
        GuideSection("Removed features: symbolic `add_loss()`, layer `metrics`/`dynamic` attributes", (36, 41, 53),
                     "Symbolic `add_loss`/`add_metric`, `dynamic=True`."),
        GuideSection("Removed features: RNN `constants` and `time_major`", (44,), "Both arguments are flagged."),
        GuideSection("Removed features: `reset_metrics` argument of `*_on_batch()`", (47,), "Flagged and dropped."),
    )),
    ("Transitioning to backend-agnostic Keras 3", (
        GuideSection("Switching to Keras ops (NumPy ops and other ops tables)", (13, 30, 40),
                     "`K.*` calls are rewritten to `keras.ops` with Keras 2's defaults made explicit: the guide's "
                     "op tables omit that `argmax`, `concatenate`, `take`, ... use other default axes (catalogue "
                     "13). Plain `tf.*` calls keep working on the TensorFlow backend and are flagged only where "
                     "they meet KerasTensors (40); porting every `tf.*` call is out of scope."),
        GuideSection("Custom `train_step()` methods", (29,),
                     "`optimizer.minimize`/`get_updates` inside training steps are flagged; a `tf.GradientTape` "
                     "step is valid Keras 3 on TensorFlow and needs a per-backend rewrite only for JAX or "
                     "PyTorch, which is a design decision, not a finding."),
        GuideSection("RNG-using layers", (14,),
                     "`tf.random.set_seed` no longer seeds Keras layers (14). Seeding custom random layers with "
                     "a `SeedGenerator` matters for compiled JAX/PyTorch code; not detected."),
    )),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def covering(rules: tuple[Rule, ...]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for rule in rules:
        for entry in rule.catalogue:
            out.setdefault(entry, []).append(rule.code)
    return out


def rule_index(rules: tuple[Rule, ...]) -> str:
    lines = [
        "# Rule index",
        "",
        "<!-- Generated by `python -m kmigrate.docs` from rules/*.toml; do not edit. "
        "tests/test_docs.py fails when this file is stale. -->",
        "",
        f"{len(rules)} rules. `kmigrate explain CODE` prints a rule's full documentation, evidence "
        "and fix safety; `kmigrate rules --format json` lists them for tools.",
        "",
        "What breaks: **silent** (no error, other numbers), **late** (error during or after training, at "
        "save/load), **construction** (error when a layer, model, optimizer or callback is built or "
        "compiled), **import** (error at import), **portability** (blocks other backends), **info**. Fix: "
        "**safe** (applied by `kmigrate fix --apply`), **unsafe** (only with `--unsafe-fixes`), **none** "
        "(explained, left to you).",
        "",
        "| Code | Name | What breaks | Fix | Catalogue | Title |",
        "|---|---|---|---|---|---|",
    ]
    for r in rules:
        off = " (off by default)" if not r.default_enabled else ""
        entries = ", ".join(str(e) for e in r.catalogue)
        lines.append(f"| {r.code} | `{r.name}` | {r.breaks} | {r.fix} | {entries} | {_cell(r.title)}{off} |")
    lines += ["", "## Catalogue coverage", "",
              "Every entry of the knowledge base (`knowledge/catalogue.md`) and the rules that implement it.",
              "", "| # | Catalogue entry | Rules |", "|---|---|---|"]
    cover = covering(rules)
    for n in range(1, CATALOGUE_SIZE + 1):
        if n in cover:
            status = ", ".join(sorted(cover[n]))
        elif str(n) in NO_FINDING:
            status = "no finding (see below)"
        else:
            status = "**no rule yet**"
        lines.append(f"| {n} | {_cell(CATALOGUE[n])} | {status} |")
    for key in ("A", "B"):
        lines.append(f"| {key} | {_cell(NO_FINDING[key][0])} | no finding (see below) |")
    lines += ["", "### Deliberately no finding", ""]
    for key, (title, reason) in NO_FINDING.items():
        label = f"Entry {key}" if key.isdigit() else title.split(":")[0]
        lines.append(f"- **{label}** ({title}): {reason}")
    return "\n".join(lines) + "\n"


def migration_guide(rules: tuple[Rule, ...]) -> str:
    cover = covering(rules)
    lines = [
        "# The official migration guide, section by section",
        "",
        "<!-- Generated by `python -m kmigrate.docs` from rules/*.toml; do not edit. "
        "tests/test_docs.py fails when this file is stale. -->",
        "",
        f"Each section of [Migrating Keras 2 code to multi-backend Keras 3]({GUIDE_URL}) "
        "(keras-team/keras-io `guides/migrating_to_keras_3.py`), the catalogue entries behind it, and the "
        "kmigrate rules that find it, or why it cannot be found statically. The guide's Setup section "
        "(installing `keras`) has no code to check.",
    ]
    for part, sections in GUIDE:
        lines += ["", f"## {part}", "", "| Guide section | Catalogue | Rules | Notes |", "|---|---|---|---|"]
        for s in sections:
            codes = sorted({c for e in s.entries for c in cover.get(e, ())})
            entries = ", ".join(str(e) for e in s.entries) or "—"
            shown = ", ".join(codes) if codes else ("not detectable statically" if not s.entries else "no rule yet")
            lines.append(f"| {_cell(s.title)} | {entries} | {shown} | {_cell(s.note)} |")
    return "\n".join(lines) + "\n"


def pages(rules: tuple[Rule, ...] | None = None) -> dict[str, str]:
    rules = rules if rules is not None else load_rules()
    return {"docs/rules.md": rule_index(rules), "docs/migration-guide.md": migration_guide(rules)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kmigrate.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is stale; write nothing")
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root (default: the source tree, else the current directory)")
    args = parser.parse_args(argv)
    if args.root is None:
        tree = Path(__file__).resolve().parent.parent
        args.root = tree if (tree / "rules").is_dir() else Path.cwd()
    stale = []
    for rel, text in pages().items():
        path = args.root / rel
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(rel)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(f"stale: {', '.join(stale)} (run `python -m kmigrate.docs`)", file=sys.stderr)
        return 1
    for rel in stale:
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
