"""One parse, one batched visit for all enabled rules."""

from __future__ import annotations

import importlib
import re
from fnmatch import fnmatchcase
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import MetadataWrapper, PositionProvider

from kmigrate.catalogue import Rule
from kmigrate.diagnostics import Diagnostic, Edit, Fix, Safety, Span
from kmigrate.names import Names
from kmigrate.versions import Target
from kmigrate.positions import Positions
from kmigrate.walk import walk

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class NodeEdit:
    """Replace ``node``'s code with ``replacement`` (source text or a new node)."""

    node: cst.CSTNode
    replacement: str | cst.CSTNode


@dataclass(frozen=True)
class InsertImport:
    """Make sure ``statement`` (``from x import y``) is present at the top of the module."""

    statement: str


@dataclass(frozen=True)
class InsertBlock:
    """Make sure a top-level definition (``def``/``class`` binding ``name``) is present once.

    ``text`` goes below the imports, like :class:`InsertImport`, and is skipped when the module
    already binds ``name`` at top level. ``after`` lists the root names the block needs when it
    is defined (a decorator's ``tf``): when such a name is bound by a top-level statement below
    the imports (``import tensorflow as tf`` after ``os.environ[...] = ...``), the block goes
    after that statement instead.
    """

    text: str
    name: str
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class FixSpec:
    title: str
    edits: tuple[NodeEdit | InsertImport | InsertBlock, ...]
    safety: Safety | None = None  # None: the rule's declared safety


@dataclass
class _Report:
    rule: Rule
    node: cst.CSTNode
    message: str
    fix: FixSpec | None
    indent: str = ""  # indentation of the block the report was made in
    path: tuple[cst.CSTNode, ...] = ()  # the ancestors of the node being visited


def render(module: cst.Module, node: cst.CSTNode, indent: str = "") -> str:
    """Source of ``node`` as it reads inside a block indented by ``indent``.

    ``Module.code_for_node`` renders at column 0, which drops the block's indentation from the
    continuation lines of a multi-line call inside a function.
    """
    state = CodegenState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        indent_tokens=[indent] if indent else [],
    )
    node._codegen(state)
    return "".join(state.tokens)


class Checker:
    """Base class of the checkers behind rules. Subclasses define ``visit_<Node>`` methods.

    A checker observes and reports through its :class:`Context`; it never prints, writes or
    reads configuration. One instance is made per file.
    """

    #: rule codes this checker may report (filled from the TOML files that name it)
    codes: ClassVar[frozenset[str]] = frozenset()

    #: Identifiers one of which a file must contain for this checker to report anything in it
    #: (in code, strings or comments: the test is a word search of the raw text). None: no such
    #: word; the checker runs on every file that names Keras or TensorFlow. A needle may also be
    #: an :class:`AllOf` of words that must all occur. A mapping gives the
    #: words per rule code (a code it lacks has none). Files in which no rule can report are
    #: never given to libcst (see :func:`screen`).
    needles: ClassVar[frozenset | Mapping[str, frozenset | None] | None] = None

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx


class Context:
    """What a checker sees of the file under analysis, and how it reports."""

    def __init__(
        self,
        path: str,
        module: cst.Module,
        names: Names,
        rules: dict[str, Rule],
        target: Target,
    ) -> None:
        self.path = path
        self.module = module
        self.names = names
        self.rules = rules
        self.target = target
        self.ancestors: list[cst.CSTNode] = []
        self.reports: list[_Report] = []
        self._positions: object | None = None

    text: str | None = None

    #: codes of the rules that may report in this file (see :func:`screen`); None: all of them
    active: frozenset[str] | None = None

    def mentions(self, *words: str) -> bool:
        """Whether the source contains any of ``words`` (True when the text is not known)."""
        return self.text is None or any(w in self.text for w in words)

    def enabled(self, code: str) -> bool:
        return code in self.rules

    def parent(self, depth: int = 1) -> cst.CSTNode | None:
        """The ancestor ``depth`` levels above the node being visited."""
        ancestors = self.ancestors
        index = len(ancestors) - 1 - depth
        return ancestors[index] if index >= 0 else None

    def indent(self) -> str:
        """The indentation of the block the node being visited is in."""
        block = cst.IndentedBlock  # `type() is`: isinstance() on a libcst ABC is a Python call
        return "".join(
            a.indent if a.indent is not None else self.module.default_indent  # type: ignore[attr-defined]
            for a in self.ancestors
            if type(a) is block
        )

    def code_for(self, node: cst.CSTNode) -> str:
        """Source of ``node`` (in the block being visited)."""
        return render(self.module, node, self.indent())

    def report(
        self,
        code: str,
        node: cst.CSTNode,
        message: str | None = None,
        fix: FixSpec | None = None,
    ) -> None:
        rule = self.rules.get(code)
        if rule is None:
            return
        if rule.fix == "none":
            fix = None
        self.reports.append(
            _Report(rule, node, message or rule.message, fix, self.indent(), tuple(self.ancestors))
        )

    def spell(
        self, target: str, like: cst.BaseExpression | None = None
    ) -> tuple[str, tuple[InsertImport, ...]]:
        """Source text that names canonical ``target`` here, plus any import it needs.

        With ``like`` (the expression being replaced), the user's own spelling is kept.
        """
        spelled = self.names.spell_like(like, target) if like is not None else self.names.spell(target)
        if spelled is not None:
            return spelled, ()
        statement, local = self.names.import_for(target)
        return local, (InsertImport(statement),)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for m in _LINE_BREAK.finditer(text):
        starts.append(m.end())
    return starts


def offset_of(starts: Sequence[int], line: int, column: int) -> int:
    """Character offset of a 1-based (line, column)."""
    return starts[line - 1] + column - 1


def _import_insertion_line(module: cst.Module, positions: object) -> int:
    """1-based line before which new imports go: after the last top-level import."""
    last: cst.CSTNode | None = None
    first_stmt: cst.CSTNode | None = None
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            small = stmt.body[0] if stmt.body else None
            if isinstance(small, (cst.Import, cst.ImportFrom)):
                last = stmt
                continue
            if (
                first_stmt is None
                and last is None
                and isinstance(small, cst.Expr)
                and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString))
            ):
                last = stmt  # module docstring
                continue
        if first_stmt is None:
            first_stmt = stmt
        if last is not None:
            break
    if last is not None:
        return positions[last].end.line + 1  # type: ignore[index]
    if first_stmt is not None:
        return positions[first_stmt].start.line  # type: ignore[index]
    return 1


def _present_imports(module: cst.Module) -> set[str]:
    out = set()
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    out.add(module.code_for_node(small).strip())
    return out


def _bound_names(stmt: cst.CSTNode) -> set[str]:
    """Names a top-level statement binds: imports (also inside ``if``/``try``), defs, assignments."""
    out: set[str] = set()
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        out.add(stmt.name.value)
    elif isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        out.add(alias.asname.name.value)
                    else:
                        out.add(_first(alias.name))
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        out.add(alias.asname.name.value)
                    elif isinstance(alias.name, cst.Name):
                        out.add(alias.name.value)
            elif isinstance(small, (cst.Assign, cst.AnnAssign)):
                targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                out.update(t.value for t in targets if isinstance(t, cst.Name))
    elif isinstance(stmt, (cst.If, cst.Try)):
        blocks = [stmt.body]
        if isinstance(stmt, cst.Try):
            blocks += [h.body for h in stmt.handlers]
        elif stmt.orelse is not None:
            blocks.append(stmt.orelse.body)  # type: ignore[union-attr]
        for block in blocks:
            for inner in getattr(block, "body", ()):
                if isinstance(inner, cst.SimpleStatementLine):
                    out |= _bound_names(inner)
    return out


def _first(name: cst.BaseExpression) -> str:
    while isinstance(name, cst.Attribute):
        name = name.value
    return name.value if isinstance(name, cst.Name) else ""


def _block_line(module: cst.Module, positions: object, import_line: int, after: tuple[str, ...]) -> int:
    line = import_line
    if after:
        for stmt in module.body:
            if _bound_names(stmt) & set(after):
                line = max(line, positions[stmt].end.line + 1)  # type: ignore[index]
    return line


_CHECKER_CACHE: dict[str, type[Checker]] = {}


def checker_class(name: str) -> type[Checker]:
    """``optimizers`` -> the Checker subclass defined in ``kmigrate.checkers.optimizers``."""
    if name in _CHECKER_CACHE:
        return _CHECKER_CACHE[name]
    module_name, _, class_name = name.partition(":")
    module = importlib.import_module(f"kmigrate.checkers.{module_name}")
    if class_name:
        cls = getattr(module, class_name)
    else:
        found = [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, Checker) and v is not Checker
            and v.__module__ == module.__name__
        ]
        if len(found) != 1:
            raise LookupError(f"kmigrate.checkers.{module_name} must define exactly one Checker")
        cls = found[0]
    _CHECKER_CACHE[name] = cls
    return cls


class _Dispatcher:
    """Routes each node type to the checkers' ``visit_<Type>``/``leave_<Type>`` methods."""

    def __init__(self, ctx: Context, checkers: Iterable[Checker]) -> None:
        self.ctx = ctx
        self.visits: dict[str, list[Callable[[cst.CSTNode], object]]] = defaultdict(list)
        self.leaves: dict[str, list[Callable[[cst.CSTNode], object]]] = defaultdict(list)
        for checker in checkers:
            for kind, node_type, attr in _hooks(type(checker)):
                table = self.visits if kind == "visit" else self.leaves
                table[node_type].append(getattr(checker, attr))


_HOOKS: dict[type, tuple[tuple[str, str, str], ...]] = {}


def _hooks(cls: type) -> tuple[tuple[str, str, str], ...]:
    """``(kind, node type, method name)`` of a checker class's visit_/leave_ methods."""
    found = _HOOKS.get(cls)
    if found is None:
        found = tuple(
            (attr[:5], attr[6:], attr)
            for attr in dir(cls)
            if attr.startswith(("visit_", "leave_"))
        )
        _HOOKS[cls] = found
    return found


@dataclass
class Analysis:
    """The result of checking one parsed module."""

    diagnostics: list[Diagnostic] = field(default_factory=list)


# ASCII words: needles are ASCII identifiers, and a non-ASCII letter next to one only splits
# off extra words (the screen stays conservative), at a third less cost than ``\w``.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


_LAST_WORDS: tuple[str, frozenset[str]] | None = None


def words(text: str) -> frozenset[str]:
    """Every identifier-like word of ``text``, in code, strings and comments alike.

    String literals may spell a word through escapes (``"hard\\x5fsigmoid"``), which the rules
    see decoded: the words of the escape-decoded text count as well.
    """
    global _LAST_WORDS
    if _LAST_WORDS is not None and _LAST_WORDS[0] is text:
        return _LAST_WORDS[1]  # the screen and a checker ask about the same file
    found = set(_WORD.findall(text))
    if "\\" in text:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes (regexes) decode as themselves
            decoded = text.encode("latin-1", "backslashreplace").decode("unicode_escape", "replace")
        found.update(_WORD.findall(decoded))
    result = frozenset(found)
    _LAST_WORDS = (text, result)
    return result


class AllOf(frozenset):
    """A needle made of several words that must all occur (``AllOf({"python", "keras"})``)."""

    def __repr__(self) -> str:
        return f"AllOf({sorted(self)!r})"



def _components(pattern: str) -> AllOf | None:
    """The words a name matching dotted ``pattern`` (fnmatch allowed) must spell, root excluded.

    A canonical name ``keras.a.b.C`` can only resolve in a file whose text holds ``a``, ``b``
    and ``C``: names are resolved from import statements and attribute chains, and
    canonicalisation only swaps the import root (``tf.keras`` -> ``keras``), never a later
    component. A component with a wildcard (``engine*``) is not a whole word and is left out.
    """
    parts = []
    for part in pattern.split(".")[1:]:
        core = part.strip("*")
        if core.isidentifier():
            # `engine*`: a `*` at an end can only widen that component (a word starting with
            # `engine`), even when it spans dots; a wildcard inside a component proves nothing.
            parts.append(part)
    return AllOf(parts) if parts else None


def _table_needles(rule: Rule) -> frozenset | None:
    """Needles one of which a file must hold for ``rule``'s tables to match (None: unknown)."""
    out: set = set()
    for sym in rule.symbols:
        spelled = _components(sym.name)
        if spelled is None:
            return None
        out.add(spelled)
    for kw in rule.keywords:  # the keyword is spelled at the call, and so is the callee
        out.add(AllOf({kw.name, *(_components(kw.callee) or ())}))
    for default in rule.defaults:  # fires when a keyword is absent: the callee is the clue
        spelled = _components(default.callee)
        if spelled is None:
            return None
        out.add(spelled)
    for string in rule.strings:  # the value is spelled in a string literal
        value = _WORD.findall(string.value)
        callee = _components(string.callee) if string.callee != "*" else None
        if not value and callee is None:
            return None
        out.add(AllOf({*value, *(callee or ())}))
    return frozenset(out)


# rule -> (single words, groups by one plain word each must contain, groups of wildcards only)
_Compiled = tuple[frozenset[str], dict[str, tuple[AllOf, ...]], tuple[AllOf, ...]]
_NEEDLES: dict[tuple[str, int], _Compiled | None] = {}


def rule_needles(rule: Rule) -> frozenset | None:
    """Needles one of which a file must contain for ``rule`` to fire in it (None: unknown).

    A needle is a word, or an :class:`AllOf` of words that must all occur.
    """
    parts: list[frozenset | None] = []
    if rule.has_table:
        parts.append(_table_needles(rule))
    if rule.checker:
        declared = checker_class(rule.checker).needles
        if isinstance(declared, Mapping):
            declared = declared.get(rule.code)
        parts.append(declared)
    if parts and all(p is not None for p in parts):
        return frozenset().union(*parts)  # type: ignore[arg-type]
    return None


def _compiled(rule: Rule) -> _Compiled | None:
    key = (rule.code, id(rule))
    if key not in _NEEDLES:
        needles = rule_needles(rule)
        if needles is None:
            _NEEDLES[key] = None
        else:
            singles = frozenset(n for n in needles if isinstance(n, str))
            keyed: dict[str, list[AllOf]] = {}
            wild: list[AllOf] = []
            for group in needles:
                if not isinstance(group, AllOf) or group & singles:
                    continue
                plain = sorted(w for w in group if "*" not in w)
                if plain:  # a group can only be complete where this word occurs
                    keyed.setdefault(max(plain, key=len), []).append(group)
                else:
                    wild.append(group)
            _NEEDLES[key] = (singles, {k: tuple(v) for k, v in keyed.items()}, tuple(wild))
    return _NEEDLES[key]


def screen(rules: dict[str, Rule], text: str) -> frozenset[str]:
    """Codes of the rules that may fire in ``text``: the others need no parse and no visit.

    Conservative by construction: a rule is dropped only when none of its needles occurs in the
    text. The result is the same as running every rule (tests compare both on the fixtures, on
    generated programs and on large real code bases).
    """
    present = words(text)
    out = []
    wild: dict[str, bool] = {}
    for code, rule in rules.items():
        compiled = _compiled(rule)
        if compiled is None:
            out.append(code)
            continue
        singles, keyed, wildcards = compiled
        if not singles.isdisjoint(present) or any(
            _all_present(g, present, wild)
            for word in keyed
            if word in present
            for g in keyed[word]
        ) or any(_all_present(g, present, wild) for g in wildcards):
            out.append(code)
    return frozenset(out)


def _all_present(group: AllOf, present: frozenset[str], wild: dict[str, bool] | None = None) -> bool:
    """Whether every word of ``group`` is in ``present`` (``engine*``: some word matches it)."""
    for item in group:
        if item in present:
            continue
        if "*" not in item:
            return False
        if wild is None:
            wild = {}
        found = wild.get(item)
        if found is None:
            found = wild[item] = any(fnmatchcase(w, item) for w in present)
        if not found:
            return False
    return True


def checkers_for(rules: Iterable[Rule]) -> list[type[Checker]]:
    names: dict[str, None] = {}
    for rule in rules:
        if rule.has_table:
            names.setdefault("table", None)
        if rule.checker:
            names.setdefault(rule.checker, None)
    return [checker_class(n) for n in names]


def analyse(
    module: cst.Module,
    path: str,
    rules: dict[str, Rule],
    target: Target,
    names: Names | None = None,
    text: str | None = None,
    active: frozenset[str] | None = None,
) -> list[Diagnostic]:
    """Run every enabled rule over ``module`` in one visit and return its diagnostics.

    ``text`` is the module's source, when the caller has it: checkers use it for cheap
    "could this file possibly match" tests before expensive analyses. ``active`` (from
    :func:`screen`) limits the visit to the rules that may fire; ``ctx.rules`` stays the whole
    enabled set, so that a checker asking whether another rule is enabled gets the same answer.
    """
    if active is not None:
        chosen = [r for code, r in rules.items() if code in active]
    else:
        chosen = list(rules.values())
    classes = checkers_for(chosen)
    if not classes:
        return []
    names = names or Names(module)
    ctx = Context(path, module, names, rules, target)
    ctx.text = text
    ctx.active = active
    checkers = [cls(ctx) for cls in classes]
    try:
        dispatcher = _Dispatcher(ctx, checkers)
        walk(module, dispatcher.visits, dispatcher.leaves, ctx.ancestors)
        if not ctx.reports:
            return []
        return _materialise(ctx)
    finally:
        # Checkers and their context refer to each other: emptying them lets reference counting
        # free the tree at once, instead of the cyclic collector tracing all of it later.
        for checker in checkers:
            getattr(checker, "__dict__", {}).clear()
        ctx.__dict__.clear()


def _render_in_place(
    module: cst.Module, lines: list[str], original: cst.CSTNode, new: cst.CSTNode, rng: object
) -> str:
    """Code for ``new`` replacing ``original``, with the block indentation of its lines kept.

    A node rendered on its own loses the indentation of its enclosing block on continuation
    lines (libcst adds it from the codegen state), so a multi-line call inside a function would
    be pulled to column 0. Render with the indentation that reproduces the original's text.
    """
    from libcst._nodes.internal import CodegenState

    plain = module.code_for_node(new)
    if "\n" not in plain and "\r" not in plain:
        return plain
    start, end = rng.start, rng.end  # type: ignore[attr-defined]
    line = lines[start.line - 1]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    if not indent:
        return plain
    original_text = "".join(lines[start.line - 1 : end.line])
    original_text = original_text[start.column : len(original_text) - len(lines[end.line - 1]) + end.column]

    def render(node: cst.CSTNode) -> str:
        state = CodegenState(module.default_indent, module.default_newline, indent_tokens=[indent])
        node._codegen(state)
        return "".join(state.tokens)

    if module.code_for_node(original) == original_text or render(original) != original_text:
        return plain
    return render(new)


def _materialise(ctx: Context) -> list[Diagnostic]:
    module = ctx.module
    positions = Positions(module, ctx.text)
    for rep in ctx.reports:
        positions.hint(rep.path)
    present: set[str] | None = None  # rendered only when a fix inserts an import
    defined: set[str] | None = None
    import_line: int | None = None
    cached: list[list[str]] = []

    def source_lines() -> list[str]:
        if not cached:
            cached.append((ctx.text if ctx.text is not None else module.code).splitlines(keepends=True))
        return cached[0]

    out: list[Diagnostic] = []
    seen: set[tuple[str, Span, str]] = set()
    for rep in ctx.reports:
        rng = positions[rep.node]
        span = Span(rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1)
        fix: Fix | None = None
        if rep.fix is not None:
            edits: list[Edit] = []
            for e in rep.fix.edits:
                if isinstance(e, NodeEdit):
                    r = positions[e.node]
                    text = (
                        e.replacement
                        if isinstance(e.replacement, str)
                        else _render_in_place(module, source_lines(), e.node, e.replacement, r)
                    )
                    edits.append(
                        Edit(
                            Span(r.start.line, r.start.column + 1, r.end.line, r.end.column + 1),
                            text,
                        )
                    )
                elif isinstance(e, InsertBlock):
                    if defined is None:
                        defined = set().union(*(_bound_names(s) for s in module.body))
                    if e.name in defined:
                        continue
                    if import_line is None:
                        import_line = _import_insertion_line(module, positions)
                    line = _block_line(module, positions, import_line, e.after)
                    nl = module.default_newline
                    body = nl.join(e.text.strip("\n").split("\n"))
                    edits.append(Edit(Span(line, 1, line, 1), nl + nl + body + nl + nl))
                else:
                    if present is None:
                        present = _present_imports(module)
                    if e.statement in present:
                        continue
                    if import_line is None:
                        import_line = _import_insertion_line(module, positions)
                    edits.append(
                        Edit(Span(import_line, 1, import_line, 1), e.statement + module.default_newline)
                    )
            fix = Fix(
                safety=rep.fix.safety or rep.rule.fix,  # type: ignore[arg-type]
                title=rep.fix.title,
                edits=tuple(edits),
            )
        message = rep.message
        if ctx.target.unknown and rep.rule.keras.replace(" ", "") not in (">=3.0", ">=3"):
            message += f" (applies to Keras {rep.rule.keras})"
        key = (rep.rule.code, span, message)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            Diagnostic(
                path=ctx.path,
                span=span,
                code=rep.rule.code,
                name=rep.rule.name,
                breaks=rep.rule.breaks,
                message=message,
                catalogue=rep.rule.catalogue,
                fix=fix,
                source_span=span,
            )
        )
    out.sort(key=Diagnostic.sort_key)
    return out
