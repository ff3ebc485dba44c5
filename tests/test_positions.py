"""Per-statement positions agree with libcst's whole-module PositionProvider, node for node."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from kmigrate.positions import Positions
from kmigrate.walk import find_path

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
    # Decorators: several, commented, parenthesised over lines, continued after the @.
    "class A(\n    keras.layers.Layer,  # base\n    metaclass=M,\n):\n"
    "    @property\n    # between\n    @other(\n        1)\n\n    def f(self, x=keras.layers.Dense(\n            3), *, y=2) -> int:\n"
    "        '''doc'''\n        return x\n\n    @(\n        wrap\n    )\n    def g(self): pass\n"
    "    @\\\n    wrap2\n    def h(self):\n        a = 1; b = 2\n        return a\n"
    "    @(\n        first,\n    )[0]\n    class Inner(Base): x = 1\n",
    # elif / else chains, nested, comments at every depth, suites.
    "def f(x):\n    if x == 1:\n        a = keras.layers.Dense(1)\n    # before elif\n    elif x == 2: b = 2\n"
    "    elif (x ==\n          3):\n        c = 3\n        # end of elif\n  # dedented comment\n    else:\n"
    "        if y:\n            d = 4\n        elif z:\n            pass\n        else:\n            e = 5\n"
    "    if x: pass\n    else: f = 6; g = 7\n    return x\n",
    "if a:\n    pass\nelse:\n    if b:\n        c = 1\n    else:\n        d = 2\n",
    # try / except / else / finally, nested.
    "def f():\n    try:\n        import keras\n    except (ImportError,\n            OSError) as exc:  # c\n"
    "        try:\n            import tf_keras as keras\n        except ImportError:\n            keras = None\n"
    "        finally:\n            done = 1\n    except Exception:\n        raise\n    else:\n        ok = 1\n"
    "    finally:\n        # cleanup\n        close()\n    try: x = 1\n    except: pass\n",
    # with, for/else, while/else, async forms.
    "async def run(items):\n    async with a as b, c as d:\n        await b\n    with (\n        open(x) as f,\n"
    "        open(y) as g,\n    ):\n        f.write(g.read())\n    async for i in items:\n        print(i)\n"
    "    else:\n        done = True\n    for j in range(3):\n        if j:\n            break\n    else:\n"
    "        j = None\n    while cond(\n        x):\n        x -= 1\n    else:\n        x = 0\n    while x: x -= 1\n",
    # Deep nesting: class in if in function in class in try.
    "try:\n    class Outer:\n        def m(self):\n            if self.x:\n                for k in self.y:\n"
    "                    with ctx():\n                        class Inner(keras.Model):\n"
    "                            @tf.function\n                            def call(self, x):\n"
    "                                while True:\n                                    return x\n"
    "except ImportError:\n    pass\nelse:\n    Outer = None\n",
    # CRLF, lone CR, tabs, form feeds, continuation lines, semicolons.
    "class A:\r\n    def f(self):\r\n        if x:\r\n            y = 1; z = 2\r\n        else:\r\n"
    "            try:\r\n                w = (1,\r\n                     2)\r\n            except E:\r\n"
    "                pass\r\n",
    "class A:\r    def f(self):\r        if x:\r            y = 1\r        elif q:\r            z = 2\r",
    "class A:\n\tdef f(self):\n\t\tif x:\n\t\t\ty = 1\n\t\telse:\n\t\t\tz = [\n\t1,\n\t\t\t]\n\t\treturn y\n",
    "\x0cimport keras\n\x0c\ndef f():\n    x = 1\n\x0c\n    if x:\n        y = 2\n    return y\n",
    "def f():\n    if a and \\\n            b:\n        x = 1 + \\\n            2\n    for i in \\\n            r:\n"
    "        pass\n    with a, \\\n            b:\n        pass\n",
    # Every block indented differently.
    "class A:\n  def f(self):\n        if x:\n           y = 1\n        elif w:\n          z = 0\n        else:\n"
    "         z = 2\n        try:\n             t = 1\n        except E:\n          t = 2\n        finally:\n"
    "           t = 3\n        for i in r:\n          pass\n        else:\n            q = [\n  1]\n",
    "def f(): return 1\nclass B: pass\nif x: y = 1\nelif z: y = 2\nelse: y = 3\n",
    "def f():\n    match x:\n        case [a, b]:\n            y = keras.layers.Dense(a)\n        case _:\n            pass\n",
]
if sys.version_info >= (3, 11):
    TRICKY.append(
        "def f():\n    try:\n        g()\n    except* ValueError as e:\n        h(e)\n"
        "    except* (TypeError, KeyError):\n        pass\n    else:\n        k = 1\n"
        "    finally:\n        m = 2\n"
    )


def sources() -> list[str]:
    out = list(TRICKY)
    out += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "fixtures").rglob("*.py"))]
    spec = importlib.util.find_spec("tf_keras")
    if spec is not None and spec.submodule_search_locations:
        base = Path(list(spec.submodule_search_locations)[0])
        out += [p.read_text(encoding="utf-8") for p in sorted(base.rglob("*.py"))[:40]]
    return out


def _expected(module: cst.Module) -> dict[cst.CSTNode, object]:
    return dict(MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider))


def _paths(module: cst.Module) -> dict[cst.CSTNode, tuple[cst.CSTNode, ...]]:
    """Every node's path from the module, whitespace included."""
    out: dict[cst.CSTNode, tuple[cst.CSTNode, ...]] = {}
    stack: list[tuple[cst.CSTNode, ...]] = [(module,)]
    while stack:
        path = stack.pop()
        out[path[-1]] = path
        stack.extend((*path, child) for child in path[-1].children)
    return out


def _check_tables(lazy: Positions, expected: dict[cst.CSTNode, object], module: cst.Module) -> None:
    """Every position recorded so far, asked for or not, is the whole-module provider's."""
    for node in [n for table, _ in lazy._tables for n in table if n in expected]:
        assert lazy._lookup(node) == expected[node], _mismatch(node, module)


def _mismatch(node: cst.CSTNode, module: cst.Module) -> tuple[str, str]:
    return type(node).__name__, module.code_for_node(node)[:60]


@pytest.mark.parametrize("text", sources(), ids=lambda t: str(hash(t) % 10**8))
def test_positions_match_the_whole_module_provider(text: str) -> None:
    module = cst.parse_module(text)
    expected = _expected(module)
    # Asking in reverse order exercises whole statements first.
    lazy = Positions(module, text)
    for node in reversed(list(expected.keys())):
        if node is module:
            continue
        assert lazy[node] == expected[node], _mismatch(node, module)
    # Deepest nodes first: every node is found before any statement around it is rendered
    # whole, so the innermost statements, clauses and headers are exercised.
    paths = _paths(module)
    lazy = Positions(module, text)
    for node in sorted(expected, key=lambda n: -len(paths[n])):
        if node is module:
            continue
        assert lazy[node] == expected[node], _mismatch(node, module)
    _check_tables(lazy, expected, module)


@pytest.mark.parametrize("text", TRICKY, ids=lambda t: str(hash(t) % 10**8))
def test_each_node_on_its_own(text: str) -> None:
    """A fresh ``Positions`` per node: nothing found by an earlier, larger render."""
    module = cst.parse_module(text)
    expected = _expected(module)
    tree = ast.parse(text)
    paths = _paths(module)
    for node, rng in expected.items():
        if node is module:
            continue
        lazy = Positions(module, text, tree)
        lazy.hint(paths[node])
        _check_tables(lazy, expected, module)
        assert lazy[node] == rng, _mismatch(node, module)


BIG = (
    "import keras\n\n\n@keras_export('A')\nclass A(keras.layers.Layer):\n"
    "    def build(self, shape):\n        self.w = 1\n\n"
    "    def call(self, x):\n        try:\n            import foo\n        except ImportError:\n"
    "            foo = None\n        if x:\n            y = keras.backend.dot(x, x)\n"
    "        elif x is None:\n            y = keras.layers.Dense(2)(x)\n        else:\n"
    "            with scope():\n                y = keras.layers.Dense(3)(x)\n        return y\n"
)


def _find(module: cst.Module, code: str, kind: type = cst.CSTNode) -> cst.CSTNode:
    found: list[cst.CSTNode] = []

    class Finder(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if not found and isinstance(node, kind) and module.code_for_node(node) == code:
                found.append(node)
            return not found

    module.visit(Finder())
    assert found, code
    return found[0]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("keras_export('A')", cst.Call),  # decorator
        ("keras.layers.Layer", cst.Attribute),  # base class
        ("keras.backend.dot(x, x)", cst.Call),  # in an if body
        ("keras.layers.Dense(2)(x)", cst.Call),  # in an elif body
        ("keras.layers.Dense(3)(x)", cst.Call),  # in with in else
        ("import foo", cst.Import),  # in try
        ("foo = None", cst.Assign),  # in except
        ("x is None", cst.Comparison),  # elif test
        ("ImportError", cst.Name),  # except clause header
    ],
)
def test_renders_only_what_holds_the_node(code: str, kind: type) -> None:
    module = cst.parse_module(BIG)
    expected = _expected(module)
    node = _find(module, code, kind)
    lazy = Positions(module, BIG)
    lazy.hint(find_path(module, node))  # type: ignore[arg-type]
    assert not lazy._full
    rendered = {n for table, _ in lazy._tables for n in table}
    assert node in rendered
    # Nothing of the other methods' bodies, nor the class or method statements themselves.
    build = _find(module, "self.w = 1", cst.Assign)
    assert build not in rendered
    cls = module.body[1]
    assert cls not in rendered and cls.body.body[1] not in rendered  # type: ignore[attr-defined]
    assert lazy[node] == expected[node]


def test_a_statement_asked_for_after_its_header_is_whole() -> None:
    module = cst.parse_module(BIG)
    expected = _expected(module)
    lazy = Positions(module, BIG)
    cls = module.body[1]
    deco = cls.decorators[0]  # type: ignore[attr-defined]
    assert lazy[deco] == expected[deco]
    assert lazy[cls] == expected[cls]
    method = cls.body.body[1]  # type: ignore[attr-defined]
    assert lazy[method] == expected[method]


def test_uses_a_given_ast(monkeypatch) -> None:
    text = BIG
    module = cst.parse_module(text)
    expected = _expected(module)
    tree = ast.parse(text)

    def refuse(*args, **kwargs):
        raise AssertionError("parsed twice")

    monkeypatch.setattr("kmigrate.positions.ast.parse", refuse)
    lazy = Positions(module, text, tree)
    node = _find(module, "keras.layers.Dense(3)(x)", cst.Call)
    assert lazy[node] == expected[node]
    assert not lazy._full


def test_falls_back_when_ast_cannot_parse(monkeypatch) -> None:
    text = TRICKY[0]
    module = cst.parse_module(text)
    expected = _expected(module)

    def refuse(*args, **kwargs):
        raise SyntaxError("not for ast")

    monkeypatch.setattr("kmigrate.positions.ast.parse", refuse)
    lazy = Positions(module, text)
    for node, rng in expected.items():
        if node is not module:
            assert lazy[node] == rng


TEXT_PLACED = (
    "import keras\n"
    "\n"
    "@decorate(\n"
    "    keras.utils.register,\n"
    ")\n"
    "class Block(keras.layers.Layer):\n"
    "    def call(self, x, training=None):\n"
    "        if keras.ops.any(x):\n"
    "            return keras.ops.relu(x)  # unique\n"
    "        return x\n"
    "\n"
    "\n"
    "def other(x):\n"
    "    return x\n"
    "\r\n"
    "def again(x):\n"
    "    return x\n"
)


@pytest.mark.parametrize(
    "code, kind",
    [
        ("keras.ops.relu(x)", cst.Call),  # a unique simple statement in nested blocks
        ("keras.layers.Layer", cst.Attribute),  # a class header (base class)
        ("keras.utils.register", cst.Attribute),  # a multi-line decorator
        ("keras.ops.any(x)", cst.Call),  # an `if` test inside a method
    ],
)
def test_unique_statements_are_placed_without_ast(code: str, kind: type, monkeypatch) -> None:
    module = cst.parse_module(TEXT_PLACED)
    expected = _expected(module)

    def refuse(*args, **kwargs):
        raise AssertionError("ast parsed")

    monkeypatch.setattr("kmigrate.positions.ast.parse", refuse)
    positions = Positions(module, TEXT_PLACED)
    node = _find(module, code, kind)
    positions.hint(find_path(module, node))
    assert positions[node] == expected[node]
    assert not positions._full


def test_a_statement_whose_text_repeats_is_placed_with_ast() -> None:
    module = cst.parse_module(TEXT_PLACED)
    expected = _expected(module)
    positions = Positions(module, TEXT_PLACED)
    returns = [n for n in expected if isinstance(n, cst.Return) and module.code_for_node(n) == "return x"]
    assert len(returns) == 3
    for node in returns:
        assert positions[node] == expected[node]
    assert positions._parsed  # `return x` occurs three times: the text cannot tell them apart
