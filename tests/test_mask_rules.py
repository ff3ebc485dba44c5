"""The masking and attention rules through the CLI (catalogue 27, 28, 42, 43, 61, 62)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "fixtures" / "cases" / "nmt_encoder_decoder"

ENCODER_DECODER = '''\
import tensorflow as tf
from tensorflow import keras

enc_in = keras.Input(shape=(None,), dtype="int32")
dec_in = keras.Input(shape=(None,), dtype="int32")
enc_emb = keras.layers.Embedding(1000, 64, mask_zero=True)(enc_in)
dec_emb = keras.layers.Embedding(1000, 64, mask_zero=True)(dec_in)
_, h, c = keras.layers.LSTM(128, return_state=True)(enc_emb)
dec_out = keras.layers.LSTM(128, return_sequences=True)(dec_emb, initial_state=[h, c])
probs = keras.layers.Dense(1000, activation="softmax")(dec_out)
model = keras.Model([enc_in, dec_in], probs)
model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam", metrics=["accuracy"])
model.fit((X, X_dec), Y, epochs=10)
'''

CLASSIFIER = '''\
import tensorflow as tf
ids = tf.keras.Input(shape=(None,), dtype="int32")
x = tf.keras.layers.Embedding(1000, 32, mask_zero=True)(ids)
x = tf.keras.layers.GRU(64)(x)
out = tf.keras.layers.Dense(1)(x)
model = tf.keras.Model(ids, out)
model.compile(loss="mse", optimizer="adam", metrics=["accuracy", "mae"])
'''


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the result cache goes to the working directory


def check(run_cli, path: Path, *args: str) -> list[dict]:
    code, out, _ = run_cli("check", path, "--no-cache", "--format", "json", *args)
    assert code in (0, 1), out
    return json.loads(out)["diagnostics"]


def write(tmp_path: Path, text: str, name: str = "model.py") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_masked_metrics_fire_for_keras_3_4_and_not_for_3_12(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, ENCODER_DECODER)
    found = check(run_cli, path, "--select", "KM125", "--target-keras", "3.4")
    assert [(d["code"], d["line"]) for d in found] == [("KM125", 12)]
    message = found[0]["message"]
    assert "trains exactly as on Keras 2" in message and "fraction of real tokens" in message
    assert "`weighted_metrics=`" in message and "sample_weight=(y != 0)" in message
    assert "(applies to Keras" not in message  # a known target needs no version note
    assert found[0]["fix"]["safety"] == "unsafe"
    assert check(run_cli, path, "--select", "KM125", "--target-keras", "3.12") == []
    assert check(run_cli, path, "--select", "KM125", "--target-keras", "3.15.1") == []


def test_masked_metrics_with_an_unknown_target_name_the_versions(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, ENCODER_DECODER)
    (found,) = check(run_cli, path, "--select", "KM125")
    assert found["message"].endswith("(applies to Keras >=3.0,<3.12)")
    assert found["catalogue"] == [61] and found["breaks"] == "silent"


def test_masked_embedding_into_gru_then_dense_is_not_flagged(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, CLASSIFIER)
    assert check(run_cli, path, "--target-keras", "3.4") == []


def test_the_seed_program_is_fixed_into_translate_fixed(tmp_path: Path, run_cli) -> None:
    target = tmp_path / "translate.py"
    shutil.copy(CASE / "translate.py", target)
    code, _, _ = run_cli("fix", target, "--unsafe-fixes", "--select", "KM125", "--apply")
    assert code == 0
    assert target.read_bytes() == (CASE / "translate_fixed.py").read_bytes()
    # Without --unsafe-fixes nothing is written: the rewrite touches compile and every fit.
    shutil.copy(CASE / "translate.py", target)
    run_cli("fix", target, "--select", "KM125", "--apply")
    assert target.read_bytes() == (CASE / "translate.py").read_bytes()


def test_the_seed_program_has_only_the_masked_metrics_finding(tmp_path: Path, run_cli) -> None:
    target = tmp_path / "translate.py"
    shutil.copy(CASE / "translate.py", target)
    found = check(run_cli, target, "--select", "KM125,KM126,KM220,KM221,KM335,KM336")
    assert [(d["code"], d["line"]) for d in found] == [("KM125", 65)]
    fixed = tmp_path / "translate_fixed.py"
    shutil.copy(CASE / "translate_fixed.py", fixed)
    assert check(run_cli, fixed, "--select", "KM125", "--target-keras", "3.4") == []


def test_attention_with_use_causal_mask_is_keras_3_code(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, (
        "import keras\n"
        "q = keras.Input(shape=(None, 8))\n"
        "att = keras.layers.Attention()\n"
        "out = att([q, q], use_causal_mask=True)\n"
        "add = keras.layers.AdditiveAttention(use_scale=True)([q, q], use_causal_mask=True)\n"
        "mha = keras.layers.MultiHeadAttention(2, 4)(q, q, use_causal_mask=True)\n"
    ))
    assert check(run_cli, path) == []


def test_attention_causal_is_moved_to_every_call(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, (
        "from tensorflow import keras\n"
        "att = keras.layers.Attention(causal=True)\n"
        "a = att([q, v])\n"
        "b = att([a, v])\n"
    ))
    (found,) = check(run_cli, path, "--select", "KM335")
    assert (found["line"], found["column"], found["fix"]["safety"]) == (2, 30, "safe")
    code, _, _ = run_cli("fix", path, "--select", "KM335", "--apply")
    assert code == 0
    assert path.read_text() == (
        "from tensorflow import keras\n"
        "att = keras.layers.Attention()\n"
        "a = att([q, v], use_causal_mask=True)\n"
        "b = att([a, v], use_causal_mask=True)\n"
    )


def test_attention_causal_without_all_calls_is_flagged_without_fix(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, (
        "from tensorflow import keras\n"
        "att = keras.layers.Attention(causal=True)\n"
        "a = att([q, v])\n"
        "block = Block(att)\n"
    ))
    (found,) = check(run_cli, path, "--select", "KM335")
    assert found["fix"] is None


def test_rnn_initial_state_fix_and_multi_output_metrics(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, (
        "import keras\n"
        "ids = keras.Input(shape=(None,), dtype='int32')\n"
        "s = keras.Input(shape=(8,))\n"
        "emb = keras.layers.Embedding(50, 4, mask_zero=True)\n"
        "x = emb(ids)\n"
        "y = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True))(x, initial_state=[s, s])\n"
        "a = keras.layers.Dense(1, name='a')(y)\n"
        "b = keras.layers.Dense(1, name='b')(y)\n"
        "model = keras.Model([ids, s], [a, b])\n"
        "model.compile(loss='mse', metrics=['mae'])\n"
    ))
    found = check(run_cli, path, "--select", "KM126,KM221")
    assert [(d["code"], d["line"], d["fix"]["safety"]) for d in found] == [("KM126", 6, "safe"), ("KM221", 10, "safe")]
    run_cli("fix", path, "--select", "KM126,KM221", "--apply")
    text = path.read_text()
    assert "(x, initial_state=[s, s], mask=emb.compute_mask(ids))" in text
    assert "metrics=[['mae'], ['mae']]" in text


@pytest.mark.parametrize("code", ["KM125", "KM126", "KM220", "KM221", "KM335", "KM336"])
def test_explain_cites_the_catalogue(code: str, run_cli) -> None:
    status, out, _ = run_cli("explain", code)
    assert status == 0 and code in out and "Catalogue entries:" in out
