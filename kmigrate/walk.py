"""A fast read-only traversal of a libcst tree.

libcst's ``module.visit`` rebuilds every node on the way back up, which costs about four times
the parse itself. Checkers only observe, so kmigrate walks the dataclass fields directly and
skips whitespace, comments and punctuation, which no checker visits. Children are visited in
source order (decorators before the definition they decorate). A subtree in which no node
class has a handler is not entered (which classes can occur below which is read from libcst's
field annotations): a walk for statements never enters an expression.
"""

from __future__ import annotations

import dataclasses
import operator
import sys
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


def _annotated_classes(annotation: object, out: set[type], module: str) -> bool:
    """Add the node classes ``annotation`` names to ``out``; False if it cannot be read."""
    if typing.get_origin(annotation) is typing.Literal:
        return True
    args = typing.get_args(annotation)
    if args:
        return all(_annotated_classes(a, out, module) for a in args)
    if isinstance(annotation, typing.ForwardRef):  # `"If"` in `If.orelse`
        annotation = getattr(sys.modules.get(module), annotation.__forward_arg__, None)
    if not isinstance(annotation, type):
        return False  # an unresolved forward reference, a type variable, Any
    if issubclass(annotation, cst.CSTNode):
        out.add(annotation)
    return True


def _subclasses(cls: type) -> set[type]:
    """``cls`` and its subclasses, without the classes libcst replaced by a slotted copy."""
    found = {cls}
    for sub in cls.__subclasses__():
        if getattr(sys.modules.get(sub.__module__), sub.__name__, sub) is sub:
            found |= _subclasses(sub)
    return found


_REACH: dict[type, frozenset[str] | None] = {}


def _reach(cls: type) -> frozenset[str] | None:
    """Names of the node classes a walk can meet below a ``cls`` node (None: unknown).

    Read from libcst's field annotations, for every node class at once on first use.
    """
    if not _REACH:
        nodes = [c for c in _subclasses(cst.CSTNode) if dataclasses.is_dataclass(c) and _visited(c)]
        below: dict[type, set[str] | None] = {}
        children: dict[type, set[type]] = {}
        for node_cls in nodes:
            named: set[type] = set()
            annotations = {f.name: f.type for f in dataclasses.fields(node_cls)}
            known = all([
                _annotated_classes(annotations[name], named, node_cls.__module__)
                for name in _FIELDS.get(node_cls) or _fields(node_cls)
            ])
            kids = {k for c in named for k in _subclasses(c) if k in _VISITED_CLASSES or _visited(k)}
            children[node_cls] = kids
            below[node_cls] = {k.__name__ for k in kids} if known else None
        changed = True
        while changed:
            changed = False
            for node_cls, kids in children.items():
                reach = below[node_cls]
                if reach is None:
                    continue
                for kid in kids:
                    more = below.get(kid)
                    if more is None:
                        below[node_cls] = reach = None
                        changed = True
                        break
                    if not more <= reach:
                        reach |= more
                        changed = True
        _REACH.update((c, None if r is None else frozenset(r)) for c, r in below.items())
    return _REACH.get(cls)


_SHAPES: dict[tuple[type, bool], tuple | None] = {}


def _shape(cls: type, opaque_imports: bool) -> tuple | None:
    """How a walk goes through a ``cls`` value: None when it is not a node the walk enters, else
    (getter of the child fields or None, whether the getter returns one value, names of the
    classes that can occur below or None)."""
    key = (cls, opaque_imports)
    if key in _SHAPES:
        return _SHAPES[key]
    shape = None
    if cls in _VISITED_CLASSES or (cls not in _SKIP_CLASSES and _visited(cls)):
        names = _FIELDS.get(cls) or _fields(cls)
        if opaque_imports and cls in _OPAQUE:
            names = ()
        # One C call fetches every child field (a tuple, or the value itself for one field).
        getter = operator.attrgetter(*names) if names else None
        shape = (getter, len(names) == 1, _reach(cls) if names else frozenset())
    _SHAPES[key] = shape
    return shape


def _observed(shape: tuple, handled: frozenset[str]) -> bool:
    """Whether a node of ``shape`` without handlers has nodes with handlers below it."""
    getter, _, reach = shape
    return getter is not None and (reach is None or not handled.isdisjoint(reach))


Handler = Callable[[cst.CSTNode], object]
_MISSING = object()
# Values that are never nodes, seeded into every walk's plans.
_NOT_NODES: dict[type, None] = {tuple: None, list: None, type(None): None, str: None}


def _traverse(
    root: cst.CSTNode,
    entered: Callable[[type], tuple[Handler | None, Handler | None] | None],
    handled: frozenset[str],
    opaque_imports: bool,
    ancestors: list[cst.CSTNode],
) -> None:
    """The traversal behind :func:`walk` and :func:`scan`.

    ``entered(cls)`` gives the (enter, leave) handlers of a node class; an ``enter`` returning
    False skips that node's children. A node without handlers below which no class in
    ``handled`` can occur is not entered: nothing would see it.
    """
    # Per class: (enter, leave, child getter, single), or None: not entered. One dict lookup
    # per field value decides it; the walk runs over every node of every file.
    plans: dict[type, tuple | None] = dict(_NOT_NODES)
    plan_of = plans.get
    seq = (tuple, list)

    def plan_for(cls: type) -> tuple | None:
        plan = None
        shape = _shape(cls, opaque_imports)
        if shape is not None:
            enter, leave = entered(cls) or (None, None)
            if enter is not None or leave is not None or _observed(shape, handled):
                plan = (enter, leave, shape[0], shape[1])
        plans[cls] = plan
        return plan

    def go(node: cst.CSTNode, plan: tuple) -> None:
        enter, leave, getter, single = plan
        ancestors.append(node)
        if (enter is None or enter(node) is not False) and getter is not None:
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
        if leave is not None:
            leave(node)
        ancestors.pop()

    plan = plan_for(type(root))
    if plan is not None:
        go(root, plan)
    go = None  # type: ignore[assignment]  # a recursive closure is a cycle: let refcounts free the tree


def _all(handlers: Sequence[Handler]) -> Handler | None:
    """One handler calling each of ``handlers``, ignoring what they return (None if none)."""
    if not handlers:
        return None
    if len(handlers) == 1:
        only = handlers[0]

        def call_one(node: cst.CSTNode) -> None:
            only(node)

        return call_one
    fns = tuple(handlers)

    def call_all(node: cst.CSTNode) -> None:
        for fn in fns:
            fn(node)

    return call_all


def walk(
    root: cst.CSTNode,
    visits: Mapping[str, Sequence[Handler]],
    leaves: Mapping[str, Sequence[Handler]],
    ancestors: list[cst.CSTNode],
) -> None:
    """Call ``visits[type name]`` on entering and ``leaves[type name]`` on leaving each node.

    ``ancestors`` is kept as the stack of nodes from the root to the current node. Import
    statements are visited whole (their names are not usages); what handlers return is ignored.
    """
    handled = frozenset(k for k, v in visits.items() if v) | frozenset(k for k, v in leaves.items() if v)

    def entered(cls: type) -> tuple[Handler | None, Handler | None]:
        return _all(visits.get(cls.__name__, ())), _all(leaves.get(cls.__name__, ()))

    _traverse(root, entered, handled, True, ancestors)


def _own_methods(cls: type, prefix: str) -> dict[str, str]:
    """Node class name -> name of the ``prefix<Type>`` method ``cls`` defines over libcst's no-ops.

    ``CSTVisitor`` defines a do-nothing ``visit_``/``leave_`` method for every node class; calling
    those would only cost time.
    """
    base = cst.CSTVisitor
    return {
        n[len(prefix) :]: n
        for n in dir(cls)
        if n.startswith(prefix) and getattr(cls, n) is not getattr(base, n, None)
    }


def scan(root: cst.CSTNode, visitor: object) -> None:
    """Run a read-only visitor's ``visit_<Type>``/``leave_<Type>`` methods over ``root``.

    A drop-in for ``root.visit(visitor)`` on visitors that only observe: much cheaper, and,
    like libcst, a ``visit_`` method returning False skips that node's children. Whitespace,
    comments and punctuation are not visited.
    """
    cls = type(visitor)
    if getattr(cls, "on_visit", cst.CSTVisitor.on_visit) is not cst.CSTVisitor.on_visit:
        raise TypeError(f"{cls.__name__} overrides on_visit: use node.visit() for it")
    visits = {k: getattr(visitor, n) for k, n in _own_methods(cls, "visit_").items()}
    leaves = {k: getattr(visitor, n) for k, n in _own_methods(cls, "leave_").items()}

    def entered(node_cls: type) -> tuple[Handler | None, Handler | None]:
        return visits.get(node_cls.__name__), leaves.get(node_cls.__name__)

    _traverse(root, entered, frozenset(visits) | frozenset(leaves), False, [])


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

    found = go(root)
    go = None  # type: ignore[assignment]  # a recursive closure is a cycle: let refcounts free the tree
    return path if found else None
