"""Worker side: the layer probe.

Same seeded input, weights copied from the Keras 2 layer into the Keras 3 one (layouts match,
Appendix B.2), then: outputs with ``training=False``; gradients w.r.t. the input and every
weight; ``training=True`` outputs when both versions are deterministic there (else only
"stochastic or not" is compared, B.4); and inference plus weights after the training-mode calls,
which is where moving statistics (BatchNormalization, #8) show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kmigrate.verify.compare import Ledger, describe, flatten

Make = Callable[[], Any]


class ProbeFailed(Exception):
    """The probe cannot run (not a difference): the verdict is ``unverifiable``."""


def _inputs(shape: Sequence[int | None], layer: Any, seed: int) -> np.ndarray:
    concrete = tuple(2 if d is None else int(d) for d in shape)
    rng = np.random.RandomState(seed)
    vocab = getattr(layer, "input_dim", None)
    if isinstance(vocab, int) and vocab > 0:
        return rng.randint(0, min(vocab, 10), size=concrete).astype("int32")
    return rng.standard_normal(concrete).astype("float32")


def _attempts(shapes: Sequence[Sequence[int | None]], layer: Any) -> list[tuple[str, Any, tuple[Any, ...]]]:
    """(label, shape, call args) in the order tried: one tensor, a list of two, two arguments."""
    out: list[tuple[str, Any, tuple[Any, ...]]] = []
    for s in shapes:
        out.append((str(tuple(s)), s, (_inputs(s, layer, 0),)))
    for s in shapes:
        out.append((f"[{tuple(s)}, {tuple(s)}]", s, ([_inputs(s, layer, 0), _inputs(s, layer, 1)],)))
    for s in shapes:
        out.append((f"{tuple(s)}, {tuple(s)} (two arguments)", s, (_inputs(s, layer, 0), _inputs(s, layer, 1))))
    return out


def _call(tf: Any, layer: Any, args: tuple[Any, ...], training: bool) -> Any:
    tensors = tuple(tf.nest.map_structure(tf.constant, a) for a in args)
    return layer(*tensors, training=training)


def _weight_map(l2: Any, l3: Any, ledger: Ledger) -> list[int] | None:
    """Index into the Keras 2 weights for each Keras 3 weight; None when layouts differ."""
    s2 = [tuple(w.shape) for w in l2.get_weights()]
    s3 = [tuple(w.shape) for w in l3.get_weights()]
    if s2 == s3:
        return list(range(len(s2)))
    if sorted(s2) != sorted(s3):
        ledger.mismatch("weights", f"layout {s2} under Keras 2, {s3} under Keras 3")
        return None

    def key(w: Any) -> str:
        name = str(getattr(w, "path", None) or w.name).split(":")[0]
        return "/".join(name.split("/")[-2:])

    k2 = [(key(w), tuple(w.shape)) for w in l2.weights]
    used: set[int] = set()
    order = []
    for w in l3.weights:
        want = (key(w), tuple(w.shape))
        pick = next((j for j, k in enumerate(k2) if j not in used and k == want), None)
        if pick is None:
            pick = next(j for j, k in enumerate(k2) if j not in used and k[1] == want[1])
        used.add(pick)
        order.append(pick)
    return order


def _gradients(tf: Any, layer: Any, args: tuple[Any, ...], seed: int) -> tuple[list[Any], list[Any]]:
    tensors = [tf.constant(a) for a in flatten(list(args))]
    floats = [t for t in tensors if t.dtype.is_floating]
    structured = tf.nest.pack_sequence_as(list(args), tensors)
    variables = list(layer.weights)
    with tf.GradientTape() as tape:
        for t in floats:
            tape.watch(t)
        ys = [y for y in tf.nest.flatten(layer(*structured, training=False)) if y.dtype.is_floating]
        rng = np.random.RandomState(seed)
        loss = tf.add_n([tf.reduce_sum(y * rng.standard_normal(y.shape).astype(y.dtype.name)) for y in ys]) if ys else None
    if loss is None:
        return [], []
    grads = tape.gradient(loss, floats + variables)
    full = [
        np.zeros(tuple(v.shape), "float32") if g is None else np.asarray(tf.convert_to_tensor(g))
        for g, v in zip(grads, floats + variables)
    ]
    return full[: len(floats)], full[len(floats) :]


def _losses(layer: Any) -> float:
    return float(sum(float(np.asarray(v)) for v in layer.losses))


def _deterministic(outputs: list[Any], again: list[Any]) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(flatten(outputs), flatten(again)))


def run(tf: Any, make2: Make, make3: Make, shapes: Sequence[Sequence[int | None]], ledger: Ledger) -> dict[str, Any]:
    errors: list[str] = []
    first_k2: tuple[str, Any] | None = None  # the first input Keras 2 accepts
    k3_error = ""
    chosen = None
    # The first input both versions accept: a shape Keras 2 tolerates and Keras 3 rejects (a
    # rank-2 batch for an image layer, say) is not the difference worth reporting.
    for label, shape, args in _attempts(shapes, make2()):
        l2 = make2()
        try:
            _call(tf, l2, args, False)
        except Exception as exc:  # noqa: BLE001 - try the next input
            errors.append(f"{label}: {describe(exc, 120)}")
            continue
        first_k2 = first_k2 or (label, shape)
        l3 = make3()
        try:
            _call(tf, l3, args, False)
        except Exception as exc:  # noqa: BLE001 - a Keras 3 failure is a behaviour difference
            k3_error = k3_error or describe(exc)
            continue
        chosen = (label, shape, args, l2, l3)
        break
    if first_k2 is None:
        raise ProbeFailed("no input shape worked under Keras 2 (" + "; ".join(errors[:3]) + ")")
    if chosen is None:
        ledger.mismatch("call", f"Keras 3 raises {k3_error}")
        return {"kind": "layer", "shape": list(first_k2[1]), "input": first_k2[0]}
    label, shape, args, l2, l3 = chosen
    info: dict[str, Any] = {"kind": "layer", "shape": list(shape), "input": label}
    order = _weight_map(l2, l3, ledger)
    if order is None:
        return info
    w2 = l2.get_weights()
    l3.set_weights([w2[j] for j in order])
    ledger.compare("output (training=False)", _call(tf, l2, args, False), _call(tf, l3, args, False))
    # Weight and activity regularizers add to the training loss (catalogue 7).
    ledger.compare("regularization losses", _losses(l2), _losses(l3))
    gi2, gw2 = _gradients(tf, l2, args, 7)
    gi3, gw3 = _gradients(tf, l3, args, 7)
    ledger.compare("gradient w.r.t. input", gi2, gi3)
    ledger.compare("gradient w.r.t. weights", [gw2[j] for j in order], gw3)

    t2 = _call(tf, l2, args, True)
    t3 = _call(tf, l3, args, True)
    det2 = _deterministic(t2, _call(tf, l2, args, True))
    det3 = _deterministic(t3, _call(tf, l3, args, True))
    if det2 and det3:
        ledger.compare("output (training=True)", t2, t3)
    elif det2 != det3:
        which = "Keras 3" if det2 else "Keras 2"
        ledger.mismatch("output (training=True)", f"stochastic under {which} only")
    else:
        ledger.note("training=True is stochastic in both versions, compared as such")
    ledger.compare("output after training-mode calls", _call(tf, l2, args, False), _call(tf, l3, args, False))
    w2 = l2.get_weights()
    ledger.compare("weights after training-mode calls", [w2[j] for j in order], l3.get_weights())
    return info
