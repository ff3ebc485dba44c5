"""The module's own `keras.utils.Sequence` subclasses (no Checker lives here).

Keras 3's `Sequence` is `PyDataset`, whose constructor takes the data-loading settings that
`fit()` no longer accepts; whether a subclass forwards `**kwargs` to it decides both KM352 (can
`fit(workers=...)` move into the constructor call?) and KM355 (does `__init__` call it?).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from kmigrate.engine import Context
from kmigrate.walk import scan

SEQUENCE_BASES = frozenset({"keras.utils.Sequence", "keras.utils.data_utils.Sequence"})


@dataclass(frozen=True)
class SequenceClass:
    node: cst.ClassDef
    init: cst.FunctionDef | None
    calls_super: bool  # its __init__ calls some parent constructor (or it has no __init__)
    forwards_kwargs: bool  # ... and passes its **kwargs on
    direct: bool  # derives from keras.utils.Sequence itself, not from a local subclass


def _calls_init(fn: cst.FunctionDef) -> tuple[bool, bool]:
    """(calls some ``X.__init__(...)``, passes the signature's ``**kwargs`` to it)."""
    star = fn.params.star_kwarg
    kwargs = star.name.value if isinstance(star, cst.Param) else None
    found = [False, False]

    class Finder(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == "__init__":
                found[0] = True
                for a in node.args:
                    if a.star == "**" and isinstance(a.value, cst.Name) and a.value.value == kwargs:
                        found[1] = True

    scan(fn.body, Finder())
    return found[0], found[1]


def sequence_classes(ctx: Context) -> dict[str, SequenceClass]:
    """Top-level classes deriving from ``Sequence``, directly or through each other."""
    classes = [s for s in ctx.module.body if isinstance(s, cst.ClassDef)]
    found: dict[str, SequenceClass] = {}
    changed = True
    while changed:
        changed = False
        for cls in classes:
            if cls.name.value in found:
                continue
            bases = [b.value for b in cls.bases if b.keyword is None]
            local = [found[b.value] for b in bases if isinstance(b, cst.Name) and b.value in found]
            direct = any(ctx.names.resolve_keras(b) in SEQUENCE_BASES for b in bases)
            if not (direct or local):
                continue
            init = next(
                (
                    s
                    for s in cls.body.body
                    if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"
                ),
                None,
            )
            if init is not None:
                calls, forwards = _calls_init(init)
            else:  # inherits the constructor: PyDataset's, or a local one's
                calls, forwards = True, all(s.forwards_kwargs for s in local)
            found[cls.name.value] = SequenceClass(cls, init, calls, forwards, direct)
            changed = True
    return found


def super_init_fixable(seq: SequenceClass) -> bool:
    """KM355 rewrites this class's ``__init__`` (see sequence_init.py)."""
    return (
        seq.direct
        and seq.init is not None
        and not seq.calls_super
        and isinstance(seq.init.body, cst.IndentedBlock)
        and bool(seq.init.body.body)
    )
