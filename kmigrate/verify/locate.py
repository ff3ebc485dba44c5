"""Find the constructs a probe can run: Keras constructor calls, custom classes, functions.

A construct is probeable when it can be rebuilt from module-level names alone: a constructor
call whose arguments are literals or module-level names, a top-level class deriving from a Keras
layer, loss, metric, schedule, regularizer or callback (a Keras ``Model`` counts as a layer), or a
top-level function (probed as an activation-like function).
"""

from __future__ import annotations

import re
import symtable
from dataclasses import dataclass
from functools import cached_property

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from kmigrate.names import Names
from kmigrate.verify import units

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SIDE_EFFECTS = re.compile(
    r"\.(fit|fit_generator|train_on_batch|save|save_weights|load_weights|evaluate|predict)\(|"
    r"\b(open|exec|eval|input|print)\(|\b(os|sys|shutil|subprocess|pathlib|socket|requests)\."
)
CALL_FAMILIES = (
    "keras.layers.", "keras.optimizers.", "keras.callbacks.", "keras.losses.", "keras.metrics.",
    "keras.regularizers.",
)
NOT_PROBED = frozenset({
    "keras.layers.Input", "keras.layers.InputLayer", "keras.Input", "keras.optimizers.get",
    "keras.losses.get", "keras.metrics.get", "keras.callbacks.CallbackList", "keras.regularizers.get",
})
EXTRA_CALLS = frozenset({"keras.Sequential", "keras.models.Sequential", "keras.activations.get"})
CLASS_BASES = (
    "keras.layers.", "keras.Layer", "keras.Model", "keras.models.", "keras.Sequential",
    "keras.engine.", "keras.losses.", "keras.metrics.", "keras.optimizers.schedules.",
    "keras.regularizers.Regularizer", "keras.callbacks.", "keras.src.",
)


@dataclass(frozen=True)
class Construct:
    kind: str  # "call" | "class" | "function"
    start: int  # character offsets in the module text
    end: int
    statement: int  # index of the top-level statement holding it
    label: str
    entry: str
    name: str  # class or function name, or the callee's canonical name
    line: int
    column: int
    end_line: int
    end_column: int


def line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _LINE_BREAK.finditer(text))]


def _locals_of(code: str) -> frozenset[str]:
    try:
        top = symtable.symtable(code, "<f>", "exec")
    except SyntaxError:
        return frozenset()
    out: set[str] = set()
    for child in top.get_children():
        out |= {s.get_name() for s in child.get_symbols() if s.is_local() or s.is_parameter()}
    return frozenset(out)


class Analysed:
    """One module text, parsed once, with what the locators need."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.module = cst.parse_module(text)
        self.wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        self.positions = self.wrapper.resolve(PositionProvider)
        self.parents = self.wrapper.resolve(ParentNodeProvider)
        self.names = Names(self.module)
        self.starts = line_starts(text)

    @cached_property
    def statements(self) -> list[units.Statement]:
        return units.table(self.module)

    @cached_property
    def bound(self) -> frozenset[str]:
        return frozenset(n for s in self.statements for n in s.binds)

    @cached_property
    def has_star(self) -> bool:
        return any(s.star for s in self.statements)

    def offsets(self, node: cst.CSTNode) -> tuple[int, int]:
        r = self.positions[node]
        return self.starts[r.start.line - 1] + r.start.column, self.starts[r.end.line - 1] + r.end.column

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1

    def top_index(self, node: cst.CSTNode) -> int:
        while node not in self.module.body:
            node = self.parents[node]
        return self.module.body.index(node)

    def ancestors(self, node: cst.CSTNode) -> list[cst.CSTNode]:
        out = []
        while node in self.parents:
            node = self.parents[node]
            out.append(node)
        return out

    # ------------------------------------------------------------------ predicates
    def resolvable(self, node: cst.CSTNode, code: str) -> bool:
        """Every free name of ``code`` is module-level, and no enclosing function shadows it."""
        free = units.free_names(code)
        if not self.has_star and not free <= self.bound:
            return False
        for anc in self.ancestors(node):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda)) and free & _locals_of(self.module.code_for_node(anc)):
                return False
        return True

    def call_target(self, call: cst.Call) -> str | None:
        name = self.names.resolve_keras(call.func)
        if name is None or name in NOT_PROBED:
            return None
        if name in EXTRA_CALLS:
            return name
        if name.startswith(CALL_FAMILIES):
            last = name.rsplit(".", 1)[1]
            if name.startswith("keras.regularizers.") or last[:1].isupper():
                return name
        return None

    @cached_property
    def probe_classes(self) -> frozenset[str]:
        """Top-level classes deriving (perhaps through each other) from a probeable Keras base."""
        found: set[str] = set()
        classes = [s for s in self.module.body if isinstance(s, cst.ClassDef)]
        changed = True
        while changed:
            changed = False
            for c in classes:
                if c.name.value in found:
                    continue
                for base in c.bases:
                    if base.keyword is not None:
                        continue
                    resolved = self.names.resolve_keras(base.value) or ""
                    local = isinstance(base.value, cst.Name) and base.value.value in found
                    if local or resolved.startswith(CLASS_BASES):
                        found.add(c.name.value)
                        changed = True
                        break
        return frozenset(found)

    # ------------------------------------------------------------------ constructs
    def _construct(self, kind: str, node: cst.CSTNode, label: str, entry: str, name: str) -> Construct:
        s, e = self.offsets(node)
        r = self.positions[node]
        return Construct(kind, s, e, self.top_index(node), label, entry, name,
                         r.start.line, r.start.column + 1, r.end.line, r.end.column + 1)

    def call_construct(self, node: cst.Call) -> Construct | None:
        target = self.call_target(node)
        if target is None:
            return None
        code = self.module.code_for_node(node)
        if not self.resolvable(node, code):
            return None
        return self._construct("call", node, _short(code), code, target)

    def class_construct(self, node: cst.ClassDef) -> Construct | None:
        if node.name.value not in self.probe_classes or node not in self.module.body:
            return None
        args = self.init_args(node.name.value, self.module.code_for_node(node))
        return self._construct("class", node, f"class {node.name.value}", f"{node.name.value}({args})",
                               node.name.value)

    def function_construct(self, node: cst.FunctionDef) -> Construct | None:
        """Only activation- or loss-like functions are run: one or two tensors in, nothing else
        required, and no sign of work with side effects (training, saving, files, processes)."""
        if node not in self.module.body:
            return None
        params = node.params
        required = [p for p in params.params if p.default is None] + list(params.posonly_params)
        if not 1 <= len(required) <= 2 or any(p.default is None for p in params.kwonly_params):
            return None
        if _SIDE_EFFECTS.search(self.module.code_for_node(node.body)):
            return None
        return self._construct("function", node, f"def {node.name.value}", node.name.value, node.name.value)

    def init_args(self, class_name: str, class_code: str) -> str:
        """Constructor arguments: a ``# kmigrate: init=(...)`` hint, else the first call found."""
        hint = re.search(r"#\s*kmigrate:\s*init\s*=\s*\((.*)\)\s*$", class_code, re.M)
        if hint:
            return hint.group(1)
        for node in _calls(self.module):
            if isinstance(node.func, cst.Name) and node.func.value == class_name and node.args:
                code = self.module.code_for_node(node)
                if self.resolvable(node, code):
                    inner = code[code.index("(") + 1 : code.rindex(")")]
                    return inner.strip()
        return ""

    def enclosing(self, start: int, end: int) -> list[Construct]:
        """Probeable constructs containing [start, end), innermost first."""
        out: list[Construct] = []
        for node in self._containing(start, end):
            c: Construct | None = None
            if isinstance(node, cst.Call):
                c = self.call_construct(node)
            elif isinstance(node, cst.ClassDef):
                c = self.class_construct(node)
            elif isinstance(node, cst.FunctionDef):
                c = self.function_construct(node)
            if c is not None:
                out.append(c)
        return out

    def _containing(self, start: int, end: int) -> list[cst.CSTNode]:
        found: list[cst.CSTNode] = []
        for node in self.positions:
            if isinstance(node, (cst.Call, cst.ClassDef, cst.FunctionDef)):
                s, e = self.offsets(node)
                if s <= start and end <= e:
                    found.append(node)
        return sorted(found, key=lambda n: (self.offsets(n)[1] - self.offsets(n)[0]))

    def all_constructs(self) -> list[Construct]:
        """Every probeable Keras construction and custom class in the module (``kmigrate verify``)."""
        out: list[Construct] = []
        for stmt in self.module.body:
            if isinstance(stmt, cst.ClassDef):
                c = self.class_construct(stmt)
                if c is not None:
                    out.append(c)
        for node in _calls(self.module):
            c = self.call_construct(node)
            if c is not None:
                out.append(c)
        return sorted(out, key=lambda c: (c.start, c.end))


def _calls(module: cst.Module) -> list[cst.Call]:
    calls: list[cst.Call] = []

    class V(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            calls.append(node)

    module.visit(V())
    return calls


def _short(code: str, width: int = 70) -> str:
    flat = " ".join(code.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
