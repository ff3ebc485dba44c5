"""Helpers to read and rewrite call arguments while keeping the user's formatting."""

from __future__ import annotations

from collections.abc import Container, Sequence

import libcst as cst


def may_resolve_to(func: cst.BaseExpression, last_names: Container[str]) -> bool:
    """Whether ``func`` can resolve to a name whose last component is in ``last_names``.

    A cheap test to run before name resolution on every call: an attribute chain resolves to a
    name ending with its own last attribute, so only a bare name needs resolving.
    """
    return type(func) is not cst.Attribute or func.attr.value in last_names


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call, index: int) -> cst.Arg | None:
    i = 0
    for arg in call.args:
        if arg.keyword is None and not arg.star:
            if i == index:
                return arg
            i += 1
        elif arg.star:
            return None
    return None


def has_star(call: cst.Call) -> bool:
    return any(arg.star for arg in call.args)


def has_double_star(call: cst.Call) -> bool:
    return any(arg.star == "**" for arg in call.args)


def argument(call: cst.Call, name: str, index: int | None) -> cst.Arg | None:
    """The argument bound to parameter ``name`` (keyword, or positional at ``index``)."""
    found = keyword(call, name)
    if found is None and index is not None:
        found = positional(call, index)
    return found


def kwarg(name: str, value: str | cst.BaseExpression) -> cst.Arg:
    expr = cst.parse_expression(value) if isinstance(value, str) else value
    return cst.Arg(
        value=expr,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )


def _comma_like(template: cst.Arg) -> cst.Comma:
    comma = template.comma
    if isinstance(comma, cst.Comma):
        return comma
    return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _without_comment(comma: cst.Comma) -> cst.Comma:
    after = comma.whitespace_after
    if isinstance(after, cst.ParenthesizedWhitespace) and after.first_line.comment is not None:
        first = after.first_line.with_changes(
            whitespace=cst.SimpleWhitespace(""), comment=None
        )
        return comma.with_changes(whitespace_after=after.with_changes(first_line=first))
    return comma


def with_args(call: cst.Call, args: Sequence[cst.Arg]) -> cst.Call:
    """``call`` with a new argument list; commas follow the original layout."""
    original = list(call.args)
    if not args:
        return call.with_changes(args=())
    last_comma = original[-1].comma if original else cst.MaybeSentinel.DEFAULT
    sep = _comma_like(original[0]) if len(original) > 1 else cst.Comma(
        whitespace_after=cst.SimpleWhitespace(" ")
    )
    # A multi-line call separates with its own newline comma; reuse the first real one
    # (without its trailing comment, which belongs to the argument it followed).
    for a in original[:-1]:
        if isinstance(a.comma, cst.Comma):
            sep = _without_comment(a.comma)
            break
    # The whitespace before `)` is the last argument's `whitespace_after_arg`: it stays at the
    # end when the last argument is removed or another one is appended after it.
    closing = original[-1].whitespace_after_arg if original else cst.SimpleWhitespace("")
    out = []
    for i, arg in enumerate(args):
        if i < len(args) - 1:
            moved = bool(original) and arg is original[-1]
            comma = arg.comma if isinstance(arg.comma, cst.Comma) and not moved else sep
            out.append(arg.with_changes(comma=comma, whitespace_after_arg=cst.SimpleWhitespace(""))
                       if moved else arg.with_changes(comma=comma))
        else:
            out.append(arg.with_changes(comma=last_comma, whitespace_after_arg=closing))
    return call.with_changes(args=out)


def remove(call: cst.Call, *names: str) -> cst.Call:
    return with_args(
        call,
        [a for a in call.args if a.keyword is None or a.keyword.value not in names],
    )


def rename(call: cst.Call, old: str, new: str) -> cst.Call:
    return with_args(
        call,
        [
            a.with_changes(keyword=cst.Name(new))
            if a.keyword is not None and a.keyword.value == old
            else a
            for a in call.args
        ],
    )


def replace_value(call: cst.Call, target: cst.Arg, value: str | cst.BaseExpression) -> cst.Call:
    expr = cst.parse_expression(value) if isinstance(value, str) else value
    return with_args(call, [a.with_changes(value=expr) if a is target else a for a in call.args])


def append(call: cst.Call, name: str, value: str | cst.BaseExpression) -> cst.Call:
    """Add ``name=value`` after the last argument (before ``**kwargs``)."""
    args = list(call.args)
    new = kwarg(name, value)
    index = len(args)
    for i, a in enumerate(args):
        if a.star == "**":
            index = i
            break
    args.insert(index, new)
    return with_args(call, args)


def string_value(node: cst.BaseExpression) -> str | None:
    """The value of a plain string literal (no f-string, no concatenation)."""
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # noqa: BLE001 - malformed literal: not a match
            return None
        return value if isinstance(value, str) else None
    return None


def is_number(node: cst.BaseExpression) -> bool:
    """A numeric literal, or arithmetic of numeric literals (``1e-3``, ``-0.1``, ``1/3``)."""
    if isinstance(node, (cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.UnaryOperation):
        return is_number(node.expression)
    if isinstance(node, cst.BinaryOperation):
        return is_number(node.left) and is_number(node.right)
    return False


def is_zero(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.Integer, cst.Float)):
        try:
            return float(node.value.replace("_", "")) == 0.0
        except ValueError:
            return False
    return False


class _Comments(cst.CSTVisitor):
    found = False

    def visit_Comment(self, node: cst.Comment) -> None:
        self.found = True


def has_comment(node: cst.CSTNode) -> bool:
    """Whether ``node`` holds a comment (a rewrite that re-renders it would drop it)."""
    finder = _Comments()
    node.visit(finder)
    return finder.found


def bind_params(
    call: cst.Call,
    params: Sequence[str],
    *,
    strict: bool = False,
    ignore: Sequence[str] = (),
) -> dict[str, cst.Arg] | None:
    """Parameter name -> argument of ``call`` for a signature ``params``.

    None when the call cannot be read: ``*args``/``**kwargs``, too many positionals, or (with
    ``strict``) a keyword outside ``params`` or given twice. Keywords in ``ignore`` are skipped.
    """
    out: dict[str, cst.Arg] = {}
    index = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is None:
            if index >= len(params):
                return None
            out[params[index]] = arg
            index += 1
        elif arg.keyword.value in ignore:
            continue
        elif not strict or (arg.keyword.value in params and arg.keyword.value not in out):
            out[arg.keyword.value] = arg
        else:
            return None
    return out
