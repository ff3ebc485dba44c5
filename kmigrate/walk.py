"""A fast read-only traversal of a libcst tree.

libcst's ``module.visit`` rebuilds every node on the way back up, which costs about four times
the parse itself. Checkers only observe, so kmigrate walks the dataclass fields directly and
skips whitespace, comments and punctuation, which no checker visits. Children are visited in
source order (decorators before the definition they decorate).
"""

from __future__ import annotations

import dataclasses
import operator
import typing
from collections.abc import Callable, Mapping, Sequence

import libcst as cst
from libcst import MaybeSentinel

_SKIP_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "comma",
        "semicolon",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "newline",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "colon",
        "equal",
        "star_tok",
        "dot",
        "whitespace",
        "trailing_whitespace",
        "first_line",
        "empty_lines",
        "indent",
    }
)
_LEAF_TYPES: tuple[type, ...] = (
    cst.BaseParenthesizableWhitespace,
    cst.Comment,
    cst.Newline,
    cst.EmptyLine,
    cst.TrailingWhitespace,
)
_FIELDS: dict[type, tuple[str, ...]] = {}
_SKIP_CLASSES: set[type] = set()
_OPAQUE = frozenset({cst.Import, cst.ImportFrom})


def _is_leaf(cls: type) -> bool:
    if issubclass(cls, _LEAF_TYPES):
        _SKIP_CLASSES.add(cls)
        return True
    return False


_VISITED_CLASSES: set[type] = set()


def _visited(cls: type) -> bool:
    """Whether values of class ``cls`` are nodes the walk enters (remembered per class).

    libcst nodes are ABCs: ``isinstance(value, CSTNode)`` costs a Python-level call, and the
    walk asks it for every field of every node, so the answer is kept in two sets.
    """
    if issubclass(cls, cst.CSTNode) and not _is_leaf(cls):
        _VISITED_CLASSES.add(cls)
        return True
    _SKIP_CLASSES.add(cls)
    return False


def _may_hold_node(annotation: object) -> bool:
    """Whether a field annotated ``annotation`` can hold a node (``str``, ``Literal[...]``: never)."""
    if annotation is str or annotation is bool or typing.get_origin(annotation) is typing.Literal:
        return False
    args = typing.get_args(annotation)
    if args:
        return any(_may_hold_node(a) for a in args)
    return annotation is not type(None) and annotation is not MaybeSentinel


def _fields(cls: type) -> tuple[str, ...]:
    names = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in _SKIP_FIELDS and "whitespace" not in f.name and _may_hold_node(f.type)
    ]
    if "decorators" in names:
        names.remove("decorators")
        names.insert(0, "decorators")
    out = tuple(names)
    _FIELDS[cls] = out
    return out


Handler = Callable[[cst.CSTNode], object]
_MISSING = object()


def walk(
    root: cst.CSTNode,
    visits: Mapping[str, Sequence[Handler]],
    leaves: Mapping[str, Sequence[Handler]],
    ancestors: list[cst.CSTNode],
) -> None:
    """Call ``visits[type name]`` on entering and ``leaves[type name]`` on leaving each node.

    ``ancestors`` is kept as the stack of nodes from the root to the current node.
    """
    # Per node class: (enter handlers, leave handlers, getter of the child fields, whether the
    # getter returns one value rather than a tuple), or None for values the walk does not enter.
    # A node without handlers and without child fields is not entered either: nothing sees it.
    # One dict lookup per value decides all of it; the walk runs over every node of every file.
    plans: dict[type, tuple | None] = {tuple: None, list: None, type(None): None, str: None}
    plan_of = plans.get
    seq = (tuple, list)

    def plan_for(cls: type) -> tuple | None:
        plan: tuple | None = None
        if cls in _VISITED_CLASSES or (cls not in _SKIP_CLASSES and _visited(cls)):
            names = _FIELDS.get(cls)
            if names is None:
                names = _fields(cls)
            if cls in _OPAQUE:
                names = ()  # import statements are visited whole; their names are not usages
            enter = tuple(visits.get(cls.__name__, ()))
            leave = tuple(leaves.get(cls.__name__, ()))
            if enter or leave or names:
                getter = operator.attrgetter(*names) if names else None
                plan = (enter, leave, getter, len(names) == 1)
        plans[cls] = plan
        return plan

    def go(node: cst.CSTNode, plan: tuple) -> None:
        enter, leave, getter, single = plan
        ancestors.append(node)
        for fn in enter:
            fn(node)
        if getter is not None:
            values = getter(node)
            for value in (values,) if single else values:
                vcls = type(value)
                if vcls in seq:
                    for item in value:
                        icls = type(item)
                        child = plan_of(icls, _MISSING)
                        if child is _MISSING:
                            child = plan_for(icls)
                        if child is not None:
                            go(item, child)
                else:
                    child = plan_of(vcls, _MISSING)
                    if child is _MISSING:
                        child = plan_for(vcls)
                    if child is not None:
                        go(value, child)
        for fn in leave:
            fn(node)
        ancestors.pop()

    plan = plan_for(type(root))
    if plan is not None:
        go(root, plan)


def scan(root: cst.CSTNode, visitor: object) -> None:
    """Run a read-only visitor's ``visit_<Type>``/``leave_<Type>`` methods over ``root``.

    A drop-in for ``root.visit(visitor)`` on visitors that only observe: much cheaper, and,
    like libcst, a ``visit_`` method returning False skips that node's children. Whitespace,
    comments and punctuation are not visited.
    """
    cls = type(visitor)
    if getattr(cls, "on_visit", cst.CSTVisitor.on_visit) is not cst.CSTVisitor.on_visit:
        raise TypeError(f"{cls.__name__} overrides on_visit: use node.visit() for it")
    visits = {n[6:]: getattr(visitor, n) for n in dir(cls) if n.startswith("visit_")}
    leaves = {n[6:]: getattr(visitor, n) for n in dir(cls) if n.startswith("leave_")}
    fields = _FIELDS
    skip = _SKIP_CLASSES
    visit = _VISITED_CLASSES
    seq = (tuple, list)

    def go(node: cst.CSTNode) -> None:
        ncls = type(node)
        name = ncls.__name__
        fn = visits.get(name)
        descend = fn(node) if fn is not None else None
        if descend is not False:
            names = fields.get(ncls)
            if names is None:
                names = _fields(ncls)
            for field in names:
                value = getattr(node, field)
                vcls = type(value)
                if vcls in seq:
                    for item in value:
                        icls = type(item)
                        if icls in visit or (icls not in skip and _visited(icls)):
                            go(item)
                elif vcls in visit or (vcls not in skip and value is not None and _visited(vcls)):
                    go(value)
        fn = leaves.get(name)
        if fn is not None:
            fn(node)

    go(root)


def find_path(root: cst.CSTNode, target: cst.CSTNode) -> list[cst.CSTNode] | None:
    """The nodes from ``root`` down to ``target`` (both included), or None if it is not there."""
    fields = _FIELDS
    CSTNode = cst.CSTNode
    path: list[cst.CSTNode] = []

    def go(node: cst.CSTNode) -> bool:
        path.append(node)
        if node is target:
            return True
        ncls = type(node)
        names = fields.get(ncls)
        if names is None:
            names = _fields(ncls)
        for field in names:
            value = getattr(node, field)
            if isinstance(value, (tuple, list)):
                for item in value:
                    if isinstance(item, CSTNode) and go(item):
                        return True
            elif isinstance(value, CSTNode) and go(value):
                return True
        path.pop()
        return False

    return path if go(root) else None
