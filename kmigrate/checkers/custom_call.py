"""``call(self, x, **kwargs)`` reading ``training``/``mask`` from ``kwargs`` (catalogue 5).

Keras 2 treats a ``**kwargs`` catch-all as "expects training and mask" and always puts
``training`` (possibly None) into it; Keras 3 passes them only to a ``call`` that names them.
The rewrite adds the explicit parameters. When every use of ``kwargs`` is a read of those keys,
the reads become the parameter; otherwise (``kwargs`` forwarded, iterated, written) the values
are put back into ``kwargs`` at the top of ``call``, which is what Keras 2 did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._classes import keras_classes
from kmigrate.engine import Checker, FixSpec, NodeEdit
from kmigrate.walk import scan

KM_CALL_KWARGS = "KM115"
METHOD = "call"
KEYS = ("training", "mask")


@dataclass
class _Uses:
    """How the body of ``call`` uses the ``**kwargs`` dict."""

    reads: list[tuple[cst.BaseExpression, str]] = field(default_factory=list)
    other: bool = False  # forwarded, iterated, written, or read with a non-literal key
    # ``training = kwargs.get("training")`` lines (by id of the read) that become no-ops
    no_ops: dict[int, tuple[cst.SimpleStatementLine, str]] = field(default_factory=dict)


class _KwargsUses(cst.CSTVisitor):
    def __init__(self, kwargs: str) -> None:
        self.kwargs = kwargs
        self.uses = _Uses()
        self._claimed: set[int] = set()

    def _key(self, node: cst.BaseExpression) -> str | None:
        value = _calls.string_value(node)
        return value if value in KEYS else None

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        if len(node.body) < 2:
            return  # deleting the only statement would leave an empty block
        for stmt in node.body:
            if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
                continue
            assign = stmt.body[0]
            if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1):
                continue
            target = assign.targets[0].target
            if isinstance(target, cst.Name) and target.value in KEYS:
                self.uses.no_ops[id(assign.value)] = (stmt, target.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == self.kwargs
            and func.attr.value in ("get", "pop")
            and 1 <= len(node.args) <= 2
            and all(a.keyword is None and not a.star for a in node.args)
        ):
            key = self._key(node.args[0].value)
            if key is not None:
                self.uses.reads.append((node, key))
                self._claimed.add(id(func.value))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if (
            isinstance(node.value, cst.Name)
            and node.value.value == self.kwargs
            and len(node.slice) == 1
            and isinstance(node.slice[0].slice, cst.Index)
        ):
            key = self._key(node.slice[0].slice.value)
            if key is not None:
                self.uses.reads.append((node, key))
                self._claimed.add(id(node.value))

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        # ``kwargs["training"] = ...`` is a write, not a read: keep Keras 2's dict instead.
        target = node.target
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            if target.value.value == self.kwargs:
                self.uses.other = True

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.kwargs and id(node) not in self._claimed:
            self.uses.other = True


class CallKwargsChecker(Checker):
    # Only a method named ``call`` is inspected (rarer than the keys it reads, "training"/"mask").
    needles = frozenset({METHOD})

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value != METHOD or not self.ctx.enabled(KM_CALL_KWARGS):
            return
        owner = self.ctx.parent(2)
        if not (isinstance(self.ctx.parent(), cst.IndentedBlock) and isinstance(owner, cst.ClassDef)):
            return
        classes = keras_classes(self.ctx)
        info = classes.of(owner)
        if info is None or info.kind == "metric":
            return
        star = node.params.star_kwarg
        if star is None:
            return
        kwargs = star.name.value
        explicit = {p.name.value for p in (*node.params.params, *node.params.kwonly_params)}
        finder = _KwargsUses(kwargs)
        scan(node.body, finder)
        uses = finder.uses
        # A key that is already a named parameter never reaches **kwargs in either version.
        reads = [(n, k) for n, k in uses.reads if k not in explicit]
        keys = tuple(k for k in KEYS if any(key == k for _, key in reads))
        if not keys:
            return
        fix = self._fix(node, kwargs, keys, reads, uses.other, uses.no_ops)
        for read, key in reads:
            self.ctx.report(
                KM_CALL_KWARGS,
                read,
                f"Keras 3 never passes `{key}` to `call(self, ..., **{kwargs})`: "
                f"`{self.ctx.code_for(read)}` never sees it, so "
                + ("code that depends on it runs as in inference during `fit`" if key == "training"
                   else "the layer ignores the input mask"),
                fix,
            )

    def _fix(
        self,
        func: cst.FunctionDef,
        kwargs: str,
        keys: tuple[str, ...],
        reads: list[tuple[cst.BaseExpression, str]],
        keep_dict: bool,
        no_ops: dict[int, tuple[cst.SimpleStatementLine, str]],
    ) -> FixSpec | None:
        ctx = self.ctx
        edits: list[NodeEdit] = [NodeEdit(func.params, _with_params(func.params, keys))]
        if keep_dict:
            body_indent = func.body.indent if isinstance(func.body, cst.IndentedBlock) else None
            indent = ctx.indent() + (body_indent if body_indent is not None else ctx.module.default_indent)
            nl = ctx.module.default_newline
            lines = []
            for key in keys:
                if key == "training":
                    lines.append(f'{indent}{kwargs}["training"] = training{nl}')
                else:
                    lines.append(f"{indent}if mask is not None:{nl}")
                    lines.append(f'{indent}{ctx.module.default_indent}{kwargs}["mask"] = mask{nl}')
            anchor = _insertion_anchor(func)
            if anchor is None:
                return None  # a one-line ``def``: no line to put the values back on
            edits.append(NodeEdit(anchor, ctx.code_for(anchor) + "".join(lines)))
            title = "Add explicit " + " and ".join(f"`{k}=None`" for k in keys) + f" and put them back into `{kwargs}`"
        else:
            for read, key in reads:
                line, target = no_ops.get(id(read), (None, ""))
                replacement = _replacement(read, key, ctx.code_for)
                if line is not None and target == replacement:
                    edits.append(NodeEdit(line, ""))  # `training = training` would be a no-op
                else:
                    edits.append(NodeEdit(read, replacement))
            title = "Add explicit " + " and ".join(f"`{k}=None`" for k in keys) + " parameters and read them"
        return FixSpec(title, tuple(edits))


def _replacement(read: cst.BaseExpression, key: str, code_for: Callable[[cst.CSTNode], str]) -> str:
    # Keras 2 always put ``training`` into **kwargs (None when unknown), so a default given to
    # ``.get``/``.pop`` was never used; ``mask`` was only present when there was a mask.
    if key == "mask" and isinstance(read, cst.Call) and len(read.args) == 2:
        default = read.args[1].value
        if not (isinstance(default, cst.Name) and default.value == "None"):
            return f"(mask if mask is not None else {code_for(default)})"
    return key


def _with_params(params: cst.Parameters, keys: tuple[str, ...]) -> cst.Parameters:
    kwonly = isinstance(params.star_arg, (cst.Param, cst.ParamStar))
    before = list(params.kwonly_params if kwonly else params.params)
    if before:
        comma = before[-1].comma
    elif kwonly and isinstance(params.star_arg, cst.Param):
        comma = params.star_arg.comma
    else:
        comma = cst.MaybeSentinel.DEFAULT
    if not isinstance(comma, cst.Comma):
        comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    new = [
        cst.Param(
            cst.Name(key),
            default=cst.Name("None"),
            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
            comma=comma,
        )
        for key in keys
    ]
    if before:
        before[-1] = before[-1].with_changes(comma=comma)
    elif kwonly and isinstance(params.star_arg, cst.Param):
        params = params.with_changes(star_arg=params.star_arg.with_changes(comma=comma))
    if kwonly:
        return params.with_changes(kwonly_params=before + new)
    return params.with_changes(params=before + new)


def _insertion_anchor(func: cst.FunctionDef) -> cst.TrailingWhitespace | None:
    """The line end after which new first statements go: after the docstring, if any."""
    body = func.body
    if not isinstance(body, cst.IndentedBlock):
        return None
    first = body.body[0] if body.body else None
    if (
        isinstance(first, cst.SimpleStatementLine)
        and len(first.body) == 1
        and isinstance(first.body[0], cst.Expr)
        and isinstance(first.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    ):
        return first.trailing_whitespace
    return body.header
