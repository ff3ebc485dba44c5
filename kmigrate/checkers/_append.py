"""Appending an argument or a tuple element in the layout of the ones before it.

The separator before the last item is reused (so a call that puts one argument per line gets
one more line), without the comment that may trail it.
"""

from __future__ import annotations

import libcst as cst

from kmigrate.checkers import _calls

_SPACE = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def separator(comma: object) -> cst.Comma:
    """``comma`` without a trailing comment or blank lines; ``, `` when there is none."""
    if not isinstance(comma, cst.Comma):
        return _SPACE
    after = comma.whitespace_after
    if isinstance(after, cst.ParenthesizedWhitespace):
        after = after.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=())
    return comma.with_changes(whitespace_after=after)


def append_arg(call: cst.Call, name: str, value: str | cst.BaseExpression) -> cst.Call:
    """``call`` with ``name=value`` after its last argument (callers exclude ``**kwargs``)."""
    args = list(call.args)
    new = _calls.kwarg(name, value)
    if not args:
        return call.with_changes(args=[new])
    sep = separator(args[-2].comma if len(args) > 1 else None)
    last = args[-1]
    if isinstance(last.comma, cst.Comma):  # a trailing comma: keep the layout it closes with
        args[-1] = last.with_changes(comma=separator(last.comma) if len(args) == 1 else sep)
    else:
        args[-1] = last.with_changes(comma=sep)
    args.append(new.with_changes(comma=last.comma))
    return call.with_changes(args=args)


def append_element(tup: cst.Tuple, value: cst.BaseExpression) -> cst.Tuple:
    elements = list(tup.elements)
    sep = separator(elements[-2].comma if len(elements) > 1 else None)
    last = elements[-1]
    elements[-1] = last.with_changes(comma=sep)
    elements.append(cst.Element(value=value, comma=last.comma))
    return tup.with_changes(elements=elements)
