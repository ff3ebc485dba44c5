"""Shared facts for the training-loop and callback checkers (no Checker lives here).

Receivers in training code are rarely typed: these helpers decide, timidly, when an object is
a Keras model, metric or optimizer, and give the indentation a statement rewrite needs.
"""

from __future__ import annotations

import libcst as cst

from kmigrate.engine import Context
from kmigrate.checkers._calls import string_value

MODEL_CLASSES = frozenset(
    {
        "keras.Model",
        "keras.Sequential",
        "keras.models.Model",
        "keras.models.Sequential",
        "keras.models.load_model",
        "keras.models.clone_model",
        "keras.models.model_from_json",
        "keras.saving.load_model",
    }
)
OPTIMIZER_NAMES = frozenset({"optimizer", "opt"})


def method_name(call: cst.Call) -> str | None:
    """``x.fit(...)`` -> ``fit``."""
    # `type(...) is`: isinstance() on libcst's ABC node classes is slow, and this runs per call.
    return call.func.attr.value if type(call.func) is cst.Attribute else None


def string_arg(node: cst.BaseExpression | None) -> str | None:
    return string_value(node) if node is not None else None


def innermost(ctx: Context, *types: type) -> cst.CSTNode | None:
    for node in reversed(ctx.ancestors[:-1]):
        if isinstance(node, types):
            return node
    return None


def enclosing_class(ctx: Context) -> cst.ClassDef | None:
    """The class whose method body we are in (directly, not in a nested function)."""
    seen_function = False
    for node in reversed(ctx.ancestors[:-1]):
        if isinstance(node, cst.FunctionDef):
            if seen_function:
                return None
            seen_function = True
        elif isinstance(node, cst.ClassDef):
            return node if seen_function else None
    return None


def base_names(ctx: Context, cls: cst.ClassDef) -> list[str]:
    out = []
    for base in cls.bases:
        if base.keyword is None:
            name = ctx.names.resolve_keras(base.value)
            if name is not None:
                out.append(name)
    return out


def is_keras_model_class(ctx: Context, cls: cst.ClassDef) -> bool:
    return any(b in MODEL_CLASSES for b in base_names(ctx, cls))


def statement_indent(ctx: Context) -> str:
    """The indentation of the statement being visited (for multi-line replacements)."""
    indent = ""
    for node in ctx.ancestors:
        if isinstance(node, cst.IndentedBlock):
            indent += node.indent if node.indent is not None else ctx.module.default_indent
    return indent


def is_model(ctx: Context, node: cst.BaseExpression) -> bool:
    """``self.model``, ``model``, a name bound to a Keras model constructor or loader."""
    if isinstance(node, cst.Attribute):
        return node.attr.value == "model"
    if isinstance(node, cst.Name):
        bound = ctx.names.instance_of(node)
        if bound is not None:
            return bound in MODEL_CLASSES
        if node.value == "self":
            cls = enclosing_class(ctx)
            return cls is not None and is_keras_model_class(ctx, cls)
        return node.value == "model" and ctx.names.imports_keras
    return False


def is_optimizer(ctx: Context, node: cst.BaseExpression) -> bool:
    """``*.optimizer``, a name bound to a Keras optimizer, or ``optimizer``/``opt``."""
    if isinstance(node, cst.Attribute):
        return node.attr.value == "optimizer"
    if isinstance(node, cst.Name):
        bound = ctx.names.instance_of(node)
        if bound is not None:
            return bound.startswith("keras.optimizers.") and ".schedules." not in bound
        return node.value in OPTIMIZER_NAMES and ctx.names.imports_keras
    return False


def whole_statement(ctx: Context, expr: cst.CSTNode) -> bool:
    """``expr`` is the only small statement of its line (so it can become several lines)."""
    parent = ctx.parent()
    if not isinstance(parent, cst.Expr) or parent.value is not expr:
        return False
    line = ctx.parent(2)
    return isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1
