"""InsertBlock: a top-level definition added once, below the imports and the names it needs."""

from __future__ import annotations

import libcst as cst

from kmigrate.catalogue import Rule, load_rules
from kmigrate.engine import Checker, Context, FixSpec, InsertBlock, NodeEdit, _Dispatcher, _materialise
from kmigrate.fixes import apply_edits
from kmigrate.names import Names
from kmigrate.versions import Target
from kmigrate.walk import walk

BLOCK = "def helper(x):\n    return tf.abs(x)\n"


class _Probe(Checker):
    """Reports every call to ``probe()`` with a fix that calls ``helper`` instead."""

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            self.ctx.report(
                "KM101",
                node,
                "probe",
                FixSpec("use helper", (NodeEdit(node.func, "helper"), InsertBlock(BLOCK, "helper", ("tf",)))),
            )


def _fix(text: str) -> str:
    rule: Rule = next(r for r in load_rules() if r.code == "KM101")
    module = cst.parse_module(text)
    ctx = Context("t.py", module, Names(module), {"KM101": rule}, Target())
    dispatcher = _Dispatcher(ctx, [_Probe(ctx)])
    walk(module, dispatcher.visits, dispatcher.leaves, ctx.ancestors)
    diags = _materialise(ctx)
    out, _ = apply_edits(text, [d.fix.edits for d in diags if d.fix])
    return out


def test_block_inserted_once_after_imports() -> None:
    text = "import os\nimport tensorflow as tf\n\na = probe(1)\nb = probe(2)\n"
    assert _fix(text) == (
        "import os\nimport tensorflow as tf\n\n\ndef helper(x):\n    return tf.abs(x)\n\n"
        "\na = helper(1)\nb = helper(2)\n"
    )


def test_block_goes_below_a_late_import_of_a_name_it_needs() -> None:
    text = "import os\nos.environ['X'] = '1'\nimport tensorflow as tf\nprint(probe(1))\n"
    out = _fix(text)
    assert out.index("import tensorflow as tf") < out.index("def helper")
    compile(out, "t.py", "exec")


def test_block_skipped_when_already_defined() -> None:
    text = "import tensorflow as tf\n\ndef helper(x):\n    return x\n\nprobe(1)\n"
    assert _fix(text).count("def helper") == 1
