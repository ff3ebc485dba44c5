"""Per-statement positions agree with libcst's whole-module PositionProvider, node for node."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from kmigrate.positions import Positions

ROOT = Path(__file__).resolve().parent.parent

TRICKY = [
    "import keras\n\n\n# comment\n@decorator\n@other(1,\n  2)\ndef f(x):\n    return x\n",
    "x = 1; y = 2\nif x: a; b\nelse:\n    pass\n",
    "import keras\r\nopt = keras.optimizers.Adam(\r\n    lr=1)\r\n",
    "import keras\n\x0c\nclass A(keras.layers.Layer):\n    '''doc\n    string'''\n    def call(self, x):\n        return x\n",
    "#!/usr/bin/env python\n# header\n\n\nasync def g():\n    await h()\n\n\nx = (1,\n     2)  # trailing\n",
    "s = '''a\nb\nc'''; t = 1\nu = [\n1,\n]\n",
    "try:\n    import keras\nexcept ImportError:\n    keras = None\nfinally:\n    pass\nwith open(f) as g:\n    pass\n",
    "x = 1\n",
    "\n\n\n",
    "@dataclass\nclass C:\n    a: int = 1\n",
    "match x:\n    case 1:\n        pass\n",
    "x = 1 \\\n    + 2\nprint(x)",
]


def sources() -> list[str]:
    out = list(TRICKY)
    out += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "fixtures").rglob("*.py"))]
    spec = importlib.util.find_spec("tf_keras")
    if spec is not None and spec.submodule_search_locations:
        base = Path(list(spec.submodule_search_locations)[0])
        out += [p.read_text(encoding="utf-8") for p in sorted(base.rglob("*.py"))[:40]]
    return out


@pytest.mark.parametrize("text", sources(), ids=lambda t: str(hash(t) % 10**8))
def test_positions_match_the_whole_module_provider(text: str) -> None:
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    # Asking in reverse order exercises the per-statement path for late statements first.
    lazy = Positions(module, text)
    for node in reversed(list(expected.keys())):
        if node is module:
            continue
        assert lazy[node] == expected[node], (type(node).__name__, module.code_for_node(node)[:60])


def test_falls_back_when_ast_cannot_parse(monkeypatch) -> None:
    text = TRICKY[0]
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)

    def refuse(*args, **kwargs):
        raise SyntaxError("not for ast")

    monkeypatch.setattr("kmigrate.positions.ast.parse", refuse)
    lazy = Positions(module, text)
    for node, rng in expected.items():
        if node is not module:
            assert lazy[node] == rng
