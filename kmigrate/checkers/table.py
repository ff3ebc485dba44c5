"""The generic checker behind declarative rule tables (symbol, keyword, default, string)."""

from __future__ import annotations

from fnmatch import fnmatchcase

import libcst as cst

from kmigrate.catalogue import DefaultEntry, KeywordEntry, Rule, StringEntry, SymbolEntry
from kmigrate.checkers import _calls
from kmigrate.engine import Checker, Context, FixSpec, InsertImport, NodeEdit
from kmigrate.names import canonical, dotted, keras_origin
from kmigrate.checkers._calls import has_comment as _has_comment


def _private(tail: str) -> bool:
    return any(part.startswith("_") for part in tail.split("."))


def _private_message(name: str) -> str:
    return (f"`{name}` is a private Keras 2 name that no public Keras 3 module exports "
            "(ModuleNotFoundError/ImportError): rewrite this code against the public API by hand")


def _fmt(template: str | None, fallback: str, **values: str) -> str:
    text = template or fallback
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text


_CallEntries = tuple[
    tuple[tuple[Rule, KeywordEntry], ...],
    tuple[tuple[Rule, DefaultEntry], ...],
    tuple[tuple[Rule, StringEntry], ...],
]


class _Tables:
    """The table entries of a set of rules, with each name's matching entries remembered.

    The answers depend on the entries alone, so files whose screen leaves the same rules share
    one instance (the same names recur in every file; without it each lookup scans every entry).
    """

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules  # kept alive: their ids are the cache key
        self.symbols = tuple((rule, e) for rule in rules for e in rule.symbols)
        self.keywords = tuple((rule, e) for rule in rules for e in rule.keywords)
        self.defaults = tuple((rule, e) for rule in rules for e in rule.defaults)
        self.strings = tuple((rule, e) for rule in rules for e in rule.strings)
        self._symbol_matches: dict[tuple[str, str | None], tuple[Rule, SymbolEntry] | None] = {}
        self._call_entries: dict[str, _CallEntries] = {}
        # Positions in `symbols` by the entry's name (every entry matches its own name), by the
        # prefix it covers, and the wildcard entries, so a new name is not tried on every entry.
        self._by_name: dict[str, list[int]] = {}
        self._by_prefix: dict[str, list[int]] = {}
        self._wild: list[int] = []
        for i, (_, entry) in enumerate(self.symbols):
            self._by_name.setdefault(entry.name, []).append(i)
            if entry.prefix:
                self._by_prefix.setdefault(entry.name, []).append(i)
            if "*" in entry.name:
                self._wild.append(i)

    def symbol_match(self, name: str, origin: str | None) -> tuple[Rule, SymbolEntry] | None:
        """The first symbol entry that matches canonical ``name`` imported through ``origin``."""
        key = (name, origin)
        if key in self._symbol_matches:
            return self._symbol_matches[key]
        # An entry matches its own name, the names below it when it is a prefix, and the names
        # its pattern matches; the first of them in rule order wins.
        candidates = [*self._by_name.get(name, ())]
        dot = name.find(".")
        while dot != -1:
            candidates += self._by_prefix.get(name[:dot], ())
            dot = name.find(".", dot + 1)
        candidates += (i for i in self._wild if fnmatchcase(name, self.symbols[i][1].name))
        found = None
        for i in sorted(candidates):
            entry = self.symbols[i][1]
            if not entry.origins or origin in entry.origins:
                found = self.symbols[i]
                break
        self._symbol_matches[key] = found
        return found

    def call_entries(self, callee: str) -> _CallEntries:
        """The keyword, default and string entries whose callee pattern matches ``callee``."""
        found = self._call_entries.get(callee)
        if found is None:
            found = (
                tuple((r, e) for r, e in self.keywords if fnmatchcase(callee, e.callee)),
                tuple((r, e) for r, e in self.defaults if fnmatchcase(callee, e.callee)),
                tuple((r, e) for r, e in self.strings if e.callee == "*" or fnmatchcase(callee, e.callee)),
            )
            self._call_entries[callee] = found
        return found


_TABLES: dict[tuple[int, ...], _Tables] = {}


def _tables(rules: tuple[Rule, ...]) -> _Tables:
    key = tuple(map(id, rules))
    tables = _TABLES.get(key)
    if tables is None:
        if len(_TABLES) >= 256:
            _TABLES.clear()
        tables = _TABLES[key] = _Tables(rules)
    return tables


class TableChecker(Checker):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        active = ctx.active
        # A rule the screen left out has none of its words in the file (engine.screen).
        self.tables = _tables(tuple(
            rule for rule in ctx.rules.values()
            if rule.has_table and (active is None or rule.code in active)
        ))
        self.symbols = self.tables.symbols
        self.keywords = self.tables.keywords
        self.defaults = self.tables.defaults
        self.strings = self.tables.strings

    # ------------------------------------------------------------ symbols
    def _symbol_match(self, name: str, origin: str | None = None) -> tuple[Rule, SymbolEntry] | None:
        return self.tables.symbol_match(name, origin)

    def _new_name(self, entry: SymbolEntry, name: str, module: bool = False) -> str | None:
        """The replacement of ``name``; ``module``: ``name`` is the module of a from-import."""
        if entry.replace is None:
            return None
        if entry.prefix and name != entry.name:
            if _private(name[len(entry.name) :]):
                return None  # `keras.layers.merge._Merge`: a private name has no public Keras 3 path
            if entry.collapse:
                return entry.replace if module else f"{entry.replace}.{name.rsplit('.', 1)[-1]}"
            return entry.replace + name[len(entry.name) :]
        return entry.replace

    def visit_Attribute(self, node: cst.Attribute) -> None:
        # Only the top of a chain is a reference. Names inside import statements are never
        # visited (kmigrate.walk): visit_Import* handles them.
        parent = self.ctx.parent()
        if not self.symbols or (type(parent) is cst.Attribute and parent.value is node):
            return
        raw = self.ctx.names.raw(node)
        origin = keras_origin(raw) if raw is not None else None
        if origin is None:
            return
        name = canonical(raw)  # type: ignore[arg-type]
        found = self._symbol_match(name, origin)
        if found is None:
            return
        rule, entry = found
        new = self._new_name(entry, name)
        fix = None
        if new is not None:
            text, imports = self.ctx.spell(new, like=node)
            fix = FixSpec(
                rule.fix_title or f"Replace with `{new}`",
                (NodeEdit(node, text), *imports),
            )
        message = _fmt(entry.message, rule.message, name=name, new=new or "")
        if new is None and entry.replace is not None:
            message = _private_message(name)
        self.ctx.report(rule.code, node, message, fix)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if not self.symbols or node.relative or node.module is None:
            return
        module_raw = dotted(node.module)
        if module_raw is None or keras_origin(module_raw) is None:
            return
        module = canonical(module_raw)
        origin = keras_origin(module_raw)
        assert origin is not None
        found = self._symbol_match(module, origin)
        if isinstance(node.names, cst.ImportStar):
            if found:
                self._report_import(node, found, module, None, origin)
            return
        aliases = []
        for alias in node.names:
            name = f"{module}.{dotted(alias.name)}"
            alias_found = self._symbol_match(name, origin)
            if alias_found is not None:
                aliases.append((alias, alias_found, name))
        # A module covered by a prefix entry (keras.layers.core) is rewritten as a whole, unless a
        # more specific entry speaks for one of its names. An exact entry names one object: the
        # names imported from it are judged by their own entries.
        if found is not None and found[1].prefix and (
            found[1].replace is not None or not aliases
        ) and all(a[1][1] is found[1] for a in aliases):
            private = [dotted(a.name) or "" for a in node.names if _private(dotted(a.name) or "")]
            if private and found[1].replace is not None:
                self.ctx.report(found[0].code, node, _private_message(f"{module}.{private[0]}"))
                return
            self._report_import(node, found, module, None, origin)
            return
        if not aliases:
            return
        group = self._group_module(node, module, origin, aliases)
        for alias, alias_found, name in aliases:
            self._report_import(node, alias_found, name, alias, origin, group)

    def _group_module(
        self,
        node: cst.ImportFrom,
        module: str,
        origin: str,
        aliases: list[tuple[cst.ImportAlias, tuple[Rule, SymbolEntry], str]],
    ) -> NodeEdit | None:
        """One edit for a from-import of several names that all end up in one module, else None.

        Only the module changes when every name keeps its own name (formatting is kept);
        otherwise the statement is written anew, ``old as local`` where a name changes.
        """
        names = node.names
        if not isinstance(names, (list, tuple)) or len(names) < 2 or _has_comment(node):
            return None
        matched = {id(alias): (entry, name) for alias, (_, entry), name in aliases}
        targets: set[str] = set()
        parts: list[str] = []
        renamed = False
        for alias in names:
            attr = dotted(alias.name) or ""
            local = alias.asname.name.value if alias.asname is not None else attr  # type: ignore[union-attr]
            if id(alias) in matched:
                entry, name = matched[id(alias)]
                new = self._new_name(entry, name)
                if new is None:
                    return None
                target, _, new_attr = new.rpartition(".")
            else:
                target, new_attr = module, attr
            targets.add(target)
            renamed = renamed or new_attr != attr
            parts.append(new_attr if new_attr == local else f"{new_attr} as {local}")
        if len(targets) != 1:
            return None
        target = targets.pop()
        spelled = origin + target[len("keras") :] if target.startswith("keras") else target
        if not renamed:
            return NodeEdit(node.module, spelled)  # type: ignore[arg-type]
        return NodeEdit(node, f"from {spelled} import {', '.join(parts)}")

    def _report_import(
        self,
        node: cst.ImportFrom,
        found: tuple[Rule, SymbolEntry],
        name: str,
        alias: cst.ImportAlias | None,
        origin: str,
        group: NodeEdit | None = None,
    ) -> None:
        rule, entry = found
        new = self._new_name(entry, name, module=alias is None)
        fix = None
        if new is not None:
            spelled = origin + new[len("keras") :] if new.startswith("keras") else new
            if alias is None:
                fix = FixSpec(
                    rule.fix_title or f"Import from `{new}`",
                    (NodeEdit(node.module, spelled),),  # type: ignore[arg-type]
                )
            elif group is not None:
                fix = FixSpec(rule.fix_title or f"Import from `{new.rpartition('.')[0]}`", (group,))
            elif isinstance(node.names, (list, tuple)) and len(node.names) == 1:
                new_module, _, new_attr = spelled.rpartition(".")
                old_attr = dotted(alias.name)
                local = alias.asname.name.value if alias.asname else old_attr  # type: ignore[union-attr]
                as_part = f" as {local}" if local != new_attr else ""
                fix = FixSpec(
                    rule.fix_title or f"Import from `{new}`",
                    (NodeEdit(node, f"from {new_module} import {new_attr}{as_part}"),),
                )
        self.ctx.report(
            rule.code,
            alias if alias is not None else node,
            _fmt(entry.message, rule.message, name=name, new=new or ""),
            fix,
        )

    def visit_Import(self, node: cst.Import) -> None:
        if not self.symbols:
            return
        for alias in node.names:
            raw = dotted(alias.name)
            if raw is None or keras_origin(raw) is None:
                continue
            name = canonical(raw)
            origin = keras_origin(raw)
            found = self._symbol_match(name, origin)
            if found is None:
                continue
            rule, entry = found
            new = self._new_name(entry, name, module=True)
            fix = None
            if new is not None and origin is not None and alias.asname is not None:
                spelled = origin + new[len("keras") :]
                fix = FixSpec(rule.fix_title or f"Import `{new}`", (NodeEdit(alias.name, spelled),))
            self.ctx.report(
                rule.code, alias, _fmt(entry.message, rule.message, name=name, new=new or ""), fix
            )

    # ------------------------------------------------------------ calls
    def visit_Call(self, node: cst.Call) -> None:
        if not (self.keywords or self.defaults or self.strings):
            return
        callee = self.ctx.names.resolve_keras(node.func)
        if callee is None:
            return
        keywords, defaults, strings = self.tables.call_entries(callee)
        # The first entry of a rule that matches an argument wins, so an entry without `value`
        # after entries with values acts as the fallback for the other values.
        taken: set[tuple[str, str]] = set()
        for rule, entry in keywords:
            if (rule.code, entry.name) not in taken:
                if self._keyword(node, callee, rule, entry):
                    taken.add((rule.code, entry.name))
        for rule, entry in defaults:
            self._default(node, callee, rule, entry)
        for rule, entry in strings:
            self._string(node, callee, rule, entry)

    def _keyword(self, node: cst.Call, callee: str, rule: Rule, entry: KeywordEntry) -> bool:
        arg = _calls.keyword(node, entry.name)
        if arg is None:
            return False
        if entry.value is not None and self.ctx.code_for(arg.value).strip() != entry.value:
            return False
        fix = None
        if entry.rename is not None:
            if _calls.keyword(node, entry.rename) is None:
                fix = FixSpec(
                    rule.fix_title or f"Rename `{entry.name}=` to `{entry.rename}=`",
                    (NodeEdit(arg.keyword, entry.rename),),  # type: ignore[arg-type]
                )
        elif entry.remove:
            fix = FixSpec(
                rule.fix_title or f"Remove `{entry.name}=`",
                (NodeEdit(node, _calls.remove(node, entry.name)),),
            )
        short = callee.rsplit(".", 1)[-1]
        self.ctx.report(
            rule.code,
            arg,
            _fmt(entry.message, rule.message, callee=short, keyword=entry.name, new=entry.rename or ""),
            fix,
        )
        return True

    def _default(self, node: cst.Call, callee: str, rule: Rule, entry: DefaultEntry) -> None:
        if _calls.has_double_star(node) or _calls.has_star(node):
            return
        if _calls.argument(node, entry.absent, entry.positional_index) is not None:
            return
        fix = None
        if entry.insert is not None:
            fix = FixSpec(
                rule.fix_title or f"Pass `{entry.absent}={entry.insert}` explicitly",
                (NodeEdit(node, _calls.append(node, entry.absent, entry.insert)),),
            )
        short = callee.rsplit(".", 1)[-1]
        self.ctx.report(
            rule.code, node, _fmt(entry.message, rule.message, callee=short, keyword=entry.absent), fix
        )

    def _string(self, node: cst.Call, callee: str, rule: Rule, entry: StringEntry) -> None:
        candidates: list[cst.Arg] = []
        for kw in entry.keywords:
            arg = _calls.keyword(node, kw)
            if arg is not None:
                candidates.append(arg)
        if entry.positional_index is not None:
            arg = _calls.positional(node, entry.positional_index)
            if arg is not None:
                candidates.append(arg)
        for arg in candidates:
            if _calls.string_value(arg.value) != entry.value:
                continue
            fix = None
            if entry.replace is not None:
                fix = FixSpec(
                    rule.fix_title or f"Replace {entry.value!r}",
                    (NodeEdit(arg.value, entry.replace),),
                )
            short = callee.rsplit(".", 1)[-1]
            self.ctx.report(
                rule.code,
                arg.value,
                _fmt(entry.message, rule.message, callee=short, value=entry.value),
                fix,
            )


__all__ = ["TableChecker", "InsertImport"]
