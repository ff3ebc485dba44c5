"""kmigrate's read-only traversals see what a full traversal sees.

``walk`` and ``scan`` leave out the subtrees in which no node class has a handler; a handler
must still be called on the same nodes, in the same order, with the same ancestors.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from kmigrate import walk as walk_module
from kmigrate.walk import scan, walk

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "fixtures" / "rules").glob("*/before.py"))[:12] + [ROOT / "kmigrate" / "graph.py"]
EXTRA = """
import keras.backend as K
from tensorflow.keras import layers as L

@decorate(K.sum)
async def f(a: int = K.ones(3), *args, b=lambda x: (y := x), **kw) -> K.Tensor:
    for i, j in zip(a, b):
        async with ctx() as (p, q):
            match i:
                case [1, *rest] if rest: pass
                case {"k": v}: del v
    x += [k for k in K.arange(3) if k] + {**kw}
    return f"{a!r:>{b}}" or (yield from g())

class C(L.Layer, metaclass=M):
    try:
        import keras
    except* ValueError:
        raise
    finally:
        global z
"""
# Every class name a handler could be registered for.
ALL_CLASSES = sorted({c.__name__ for c in walk_module._subclasses(cst.CSTNode)})
HANDLER_SETS = [
    ["Assign", "AugAssign", "For"],  # statements only: every expression is left out
    ["Name"],
    ["Attribute", "Call"],
    ["Lambda", "Param", "NamedExpr"],
    ["Decorator", "Annotation", "FormattedStringExpression"],
    ["MatchCase", "WithItem", "CompFor"],
    ["ImportAlias", "ImportFrom", "Import", "AsName"],
    ["IndentedBlock", "ClassDef", "ExceptStarHandler"],
    ["Del"],
    ["Param"],
    ["Integer"],
]


def _modules() -> list[cst.Module]:
    return [cst.parse_module(p.read_text()) for p in SOURCES] + [cst.parse_module(EXTRA)]


def _walk_events(module: cst.Module, wanted: list[str], everything: bool) -> list[tuple]:
    """Events of ``walk`` for the ``wanted`` classes; ``everything``: every class has a handler."""
    events: list[tuple] = []
    ancestors: list[cst.CSTNode] = []

    def recorder(kind: str, name: str):  # type: ignore[no-untyped-def]
        return lambda node: events.append((kind, name, id(node), tuple(map(id, ancestors))))

    names = ALL_CLASSES if everything else wanted
    visits = {n: [recorder("visit", n)] if n in wanted else [lambda node: None] for n in names}
    leaves = {n: [recorder("leave", n)] if n in wanted else [] for n in names}
    walk(module, visits, leaves, ancestors)
    return events


@pytest.mark.parametrize("wanted", HANDLER_SETS, ids="+".join)
def test_walk_sees_what_a_full_walk_sees(wanted: list[str]) -> None:
    for module in _modules():
        assert _walk_events(module, wanted, everything=False) == _walk_events(module, wanted, everything=True)


def test_the_walk_still_reaches_statements_below_expressions_it_skips() -> None:
    module = cst.parse_module(EXTRA)
    seen: list[str] = []
    walk(module, {"AugAssign": [lambda n: seen.append("aug")], "Del": [lambda n: seen.append("del")]}, {}, [])
    assert seen == ["del", "aug"]


def _scan_events(module: cst.Module, wanted: list[str], everything: bool) -> list[tuple]:
    events: list[tuple] = []

    def visit(name: str):  # type: ignore[no-untyped-def]
        # Some visits return False: their children must be skipped either way.
        return lambda self, node: events.append(("visit", name, id(node))) or len(name) % 3 != 0

    def leave(name: str):  # type: ignore[no-untyped-def]
        return lambda self, node: events.append(("leave", name, id(node)))

    methods = {f"visit_{n}": visit(n) for n in wanted} | {f"leave_{n}": leave(n) for n in wanted[::2]}
    if everything:
        for name in ALL_CLASSES:
            methods.setdefault(f"visit_{name}", lambda self, node: None)
    scan(module, type("Visitor", (cst.CSTVisitor,), methods)())
    return events


@pytest.mark.parametrize("wanted", HANDLER_SETS, ids="+".join)
def test_scan_sees_what_a_full_scan_sees(wanted: list[str]) -> None:
    for module in _modules():
        assert _scan_events(module, wanted, everything=False) == _scan_events(module, wanted, everything=True)


def test_scan_agrees_with_libcst_on_which_calls_a_visitor_sees() -> None:
    class Calls(cst.CSTVisitor):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def visit_Call(self, node: cst.Call) -> bool:
            self.seen.append(cst.Module([]).code_for_node(node.func))
            return not (isinstance(node.func, cst.Name) and node.func.value == "skip")

    module = cst.parse_module("f(g(1))\nskip(h(2))\nclass A:\n    x = [k(3) for _ in y]\n")
    ours, theirs = Calls(), Calls()
    scan(module, ours)
    module.visit(theirs)
    assert ours.seen == theirs.seen == ["f", "g", "skip", "k"]


def test_every_libcst_node_class_has_a_known_reach() -> None:
    # Unreadable field annotations would silently turn the skipping off (correct, but slow).
    unknown = [c.__name__ for c in walk_module._subclasses(cst.CSTNode)
               if walk_module._visited(c) and walk_module._reach(c) is None]
    assert unknown == []
