"""The generic checker behind declarative rule tables (symbol, keyword, default, string)."""

from __future__ import annotations

from fnmatch import fnmatchcase

import libcst as cst

from kmigrate.catalogue import DefaultEntry, KeywordEntry, Rule, StringEntry, SymbolEntry
from kmigrate.checkers import _calls
from kmigrate.engine import Checker, Context, FixSpec, InsertImport, NodeEdit
from kmigrate.names import canonical, dotted, keras_origin


def _fmt(template: str | None, fallback: str, **values: str) -> str:
    text = template or fallback
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text


class TableChecker(Checker):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.symbols: list[tuple[Rule, SymbolEntry]] = []
        self.keywords: list[tuple[Rule, KeywordEntry]] = []
        self.defaults: list[tuple[Rule, DefaultEntry]] = []
        self.strings: list[tuple[Rule, StringEntry]] = []
        for rule in ctx.rules.values():
            self.symbols += [(rule, e) for e in rule.symbols]
            self.keywords += [(rule, e) for e in rule.keywords]
            self.defaults += [(rule, e) for e in rule.defaults]
            self.strings += [(rule, e) for e in rule.strings]

    # ------------------------------------------------------------ symbols
    def _symbol_match(self, name: str) -> tuple[Rule, SymbolEntry] | None:
        for rule, entry in self.symbols:
            if name == entry.name or (entry.prefix and name.startswith(entry.name + ".")):
                return rule, entry
            if "*" in entry.name and fnmatchcase(name, entry.name):
                return rule, entry
        return None

    def _new_name(self, entry: SymbolEntry, name: str) -> str | None:
        if entry.replace is None:
            return None
        if entry.prefix and name != entry.name:
            return entry.replace + name[len(entry.name) :]
        return entry.replace

    def _is_chain_top(self) -> bool:
        parent = self.ctx.parent()
        node = self.ctx.ancestors[-1]
        if isinstance(parent, cst.Attribute) and parent.value is node:
            return False
        # Names inside import statements are handled by visit_Import*/not usages.
        return not any(isinstance(a, (cst.Import, cst.ImportFrom)) for a in self.ctx.ancestors[-4:])

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if not self.symbols or not self._is_chain_top():
            return
        raw = self.ctx.names.raw(node)
        if raw is None or keras_origin(raw) is None:
            return
        name = canonical(raw)
        found = self._symbol_match(name)
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
        self.ctx.report(
            rule.code,
            node,
            _fmt(entry.message, rule.message, name=name, new=new or ""),
            fix,
        )

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if not self.symbols or node.relative or node.module is None:
            return
        module_raw = dotted(node.module)
        if module_raw is None or keras_origin(module_raw) is None:
            return
        module = canonical(module_raw)
        origin = keras_origin(module_raw)
        assert origin is not None
        if isinstance(node.names, cst.ImportStar):
            found = self._symbol_match(module)
            if found:
                self._report_import(node, found, module, None, origin)
            return
        # The module itself (a prefix entry such as keras.layers.experimental.preprocessing).
        found = self._symbol_match(module)
        if found is not None:
            self._report_import(node, found, module, None, origin)
            return
        for alias in node.names:
            name = f"{module}.{dotted(alias.name)}"
            found = self._symbol_match(name)
            if found is not None:
                self._report_import(node, found, name, alias, origin)

    def _report_import(
        self,
        node: cst.ImportFrom,
        found: tuple[Rule, SymbolEntry],
        name: str,
        alias: cst.ImportAlias | None,
        origin: str,
    ) -> None:
        rule, entry = found
        new = self._new_name(entry, name)
        fix = None
        if new is not None:
            spelled = origin + new[len("keras") :] if new.startswith("keras") else new
            if alias is None:
                fix = FixSpec(
                    rule.fix_title or f"Import from `{new}`",
                    (NodeEdit(node.module, spelled),),  # type: ignore[arg-type]
                )
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
            found = self._symbol_match(name)
            if found is None:
                continue
            rule, entry = found
            new = self._new_name(entry, name)
            fix = None
            origin = keras_origin(raw)
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
        for rule, entry in self.keywords:
            if fnmatchcase(callee, entry.callee):
                self._keyword(node, callee, rule, entry)
        for rule, entry in self.defaults:
            if fnmatchcase(callee, entry.callee):
                self._default(node, callee, rule, entry)
        for rule, entry in self.strings:
            if entry.callee == "*" or fnmatchcase(callee, entry.callee):
                self._string(node, callee, rule, entry)

    def _keyword(self, node: cst.Call, callee: str, rule: Rule, entry: KeywordEntry) -> None:
        arg = _calls.keyword(node, entry.name)
        if arg is None:
            return
        if entry.value is not None and self.ctx.code_for(arg.value).strip() != entry.value:
            return
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
