"""Loads and validates the rules: one TOML file per rule in ``rules/``."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

BREAKS = ("silent", "late", "construction", "import", "portability", "info")
FIXES = ("safe", "unsafe", "none")
CATALOGUE_SIZE = 62


class RuleError(ValueError):
    """A rule file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class SymbolEntry:
    """A reference to a canonical name (``keras.optimizers.legacy.Adam``) or a prefix of names."""

    name: str
    prefix: bool = False
    replace: str | None = None
    message: str | None = None
    # Prefix entries only: the package ``replace`` re-exports everything under the prefix
    # flat, so ``P.a.b.X`` becomes ``R.X`` and ``from P.a.b import X`` becomes ``from R import X``.
    collapse: bool = False
    # Import roots through which the name is broken (``"keras"``, ``"tf_keras"``, ...); empty:
    # every root. Names the Keras 3 ``tf.keras`` compat namespace still serves leave it out.
    origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeywordEntry:
    """A keyword argument passed to a callee (canonical name, fnmatch pattern allowed)."""

    callee: str
    name: str
    rename: str | None = None
    remove: bool = False
    value: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class DefaultEntry:
    """A call that relies on a default which changed: ``absent`` keyword gets ``insert``."""

    callee: str
    absent: str
    insert: str | None = None
    positional_index: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class StringEntry:
    """A string literal passed as a keyword (or positional) argument to a Keras callee."""

    callee: str
    value: str
    keywords: tuple[str, ...] = ()
    positional_index: int | None = None
    replace: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Example:
    before: str
    after: str | None = None


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    title: str
    catalogue: tuple[int, ...]
    breaks: str
    keras: str
    fix: str
    keras2: str
    keras3: str
    message: str
    fix_title: str | None
    checker: str | None
    references: tuple[str, ...]
    example: Example
    description: str = ""
    default_enabled: bool = True
    fix_safety_note: str = ""
    # Set when the rewrite changes numbers on purpose (why, in one sentence): `fix --verify`
    # then applies it despite a `differs` verdict, and only with --unsafe-fixes.
    intended_difference: str = ""
    symbols: tuple[SymbolEntry, ...] = ()
    keywords: tuple[KeywordEntry, ...] = ()
    defaults: tuple[DefaultEntry, ...] = ()
    strings: tuple[StringEntry, ...] = ()
    source: str = field(default="", compare=False)

    @property
    def specifier(self) -> SpecifierSet:
        from packaging.specifiers import SpecifierSet

        return SpecifierSet(self.keras)

    @property
    def has_table(self) -> bool:
        return bool(self.symbols or self.keywords or self.defaults or self.strings)

    @property
    def fixable(self) -> bool:
        return self.fix != "none"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "title": self.title,
            "catalogue": list(self.catalogue),
            "breaks": self.breaks,
            "keras": self.keras,
            "fix": self.fix,
            "fix_title": self.fix_title,
            "message": self.message,
            "keras2": self.keras2,
            "keras3": self.keras3,
            "checker": self.checker,
            "references": list(self.references),
            "example": {"before": self.example.before, "after": self.example.after},
            "description": self.description,
            "default_enabled": self.default_enabled,
            "fix_safety_note": self.fix_safety_note,
            "intended_difference": self.intended_difference,
            "symbols": [{**vars(e), "origins": list(e.origins)} for e in self.symbols],
            "keywords": [vars(e) for e in self.keywords],
            "defaults": [vars(e) for e in self.defaults],
            "strings": [
                {**vars(e), "keywords": list(e.keywords)} for e in self.strings
            ],
        }


_REQUIRED = {
    "code": str,
    "name": str,
    "title": str,
    "catalogue": list,
    "breaks": str,
    "keras": str,
    "fix": str,
    "keras2": str,
    "keras3": str,
    "references": list,
    "example": dict,
}
_OPTIONAL = {
    "checker": str,
    "message": str,
    "fix_title": str,
    "description": str,
    "default_enabled": bool,
    "fix_safety_note": str,
    "intended_difference": str,
    "symbol": list,
    "keyword": list,
    "default": list,
    "string": list,
}


def _table_entries(where: str, raw: list[Any], cls: type, fields: dict[str, type]) -> tuple:
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise RuleError(f"{where}[{i}]: expected a table")
        unknown = set(item) - set(fields)
        if unknown:
            raise RuleError(f"{where}[{i}]: unknown field(s) {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        for key, value in item.items():
            want = fields[key]
            if want is tuple:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise RuleError(f"{where}[{i}].{key}: expected a list of strings")
                value = tuple(value)
            elif not isinstance(value, want) or (want is int and isinstance(value, bool)):
                raise RuleError(f"{where}[{i}].{key}: expected {want.__name__}")
            kwargs[key] = value
        try:
            out.append(cls(**kwargs))
        except TypeError as exc:
            raise RuleError(f"{where}[{i}]: {exc}") from None
    return tuple(out)


def parse_rule(data: dict[str, Any], source: str) -> Rule:
    def fail(msg: str) -> RuleError:
        return RuleError(f"{source}: {msg}")

    for key, typ in _REQUIRED.items():
        if key not in data:
            raise fail(f"missing field `{key}`")
        if not isinstance(data[key], typ):
            raise fail(f"field `{key}` must be a {typ.__name__}")
    for key, typ in _OPTIONAL.items():
        if key in data and not isinstance(data[key], typ):
            raise fail(f"field `{key}` must be a {typ.__name__}")
    unknown = set(data) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise fail(f"unknown field(s) {', '.join(sorted(unknown))}")

    code = data["code"]
    if not (len(code) == 5 and code.startswith("KM") and code[2:].isdigit()):
        raise fail(f"code {code!r} is not of the form KMnnn")
    if code[2] not in "12345":
        raise fail(f"code {code!r}: the first digit must be 1-5 (see DESIGN.md)")
    name = data["name"]
    if not name or name != name.lower() or " " in name or "_" in name:
        raise fail(f"name {name!r} must be kebab-case")
    if name.startswith(("use-", "no-")):
        raise fail(f"name {name!r} must name the pattern, not the fix")
    entries = data["catalogue"]
    if not entries or not all(isinstance(e, int) and 1 <= e <= CATALOGUE_SIZE for e in entries):
        raise fail(f"catalogue must list entries 1..{CATALOGUE_SIZE}, got {entries!r}")
    if data["breaks"] not in BREAKS:
        raise fail(f"breaks must be one of {', '.join(BREAKS)}")
    if data["fix"] not in FIXES:
        raise fail(f"fix must be one of {', '.join(FIXES)}")
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(data["keras"])
    except InvalidSpecifier:
        raise fail(f"keras {data['keras']!r} is not a PEP 440 specifier") from None
    example = data["example"]
    if not isinstance(example.get("before"), str):
        raise fail("example.before must be a string")
    if set(example) - {"before", "after"}:
        raise fail("example has unknown fields")
    if data["fix"] != "none" and not isinstance(example.get("after"), str):
        raise fail("a fixable rule needs example.after")
    refs = data["references"]
    if not all(isinstance(r, str) for r in refs):
        raise fail("references must be strings")

    symbols = _table_entries(
        f"{source}: symbol",
        data.get("symbol", []),
        SymbolEntry,
        {
            "name": str,
            "prefix": bool,
            "replace": str,
            "message": str,
            "collapse": bool,
            "origins": tuple,
        },
    )
    for entry in symbols:
        if entry.collapse and not (entry.prefix and entry.replace):
            raise fail(f"symbol {entry.name!r}: collapse needs prefix = true and a replace")
    keywords = _table_entries(
        f"{source}: keyword",
        data.get("keyword", []),
        KeywordEntry,
        {"callee": str, "name": str, "rename": str, "remove": bool, "value": str, "message": str},
    )
    defaults = _table_entries(
        f"{source}: default",
        data.get("default", []),
        DefaultEntry,
        {"callee": str, "absent": str, "insert": str, "positional_index": int, "message": str},
    )
    strings = _table_entries(
        f"{source}: string",
        data.get("string", []),
        StringEntry,
        {
            "callee": str,
            "value": str,
            "keywords": tuple,
            "positional_index": int,
            "replace": str,
            "message": str,
        },
    )
    checker = data.get("checker")
    if checker is None and not (symbols or keywords or defaults or strings):
        raise fail("a rule needs a `checker` or a declarative table (symbol/keyword/default/string)")

    return Rule(
        code=code,
        name=name,
        title=data["title"],
        catalogue=tuple(entries),
        breaks=data["breaks"],
        keras=data["keras"],
        fix=data["fix"],
        keras2=data["keras2"],
        keras3=data["keras3"],
        message=data.get("message", data["title"]),
        fix_title=data.get("fix_title"),
        checker=checker,
        references=tuple(refs),
        example=Example(example["before"], example.get("after")),
        description=data.get("description", ""),
        default_enabled=data.get("default_enabled", True),
        fix_safety_note=data.get("fix_safety_note", ""),
        intended_difference=data.get("intended_difference", ""),
        symbols=symbols,
        keywords=keywords,
        defaults=defaults,
        strings=strings,
        source=source,
    )


def rules_dir() -> Path:
    """The rules shipped with kmigrate: the source tree's ``rules/`` or the installed copy."""
    here = Path(__file__).resolve().parent
    tree = here.parent / "rules"
    if tree.is_dir() and any(tree.glob("KM*.toml")):
        return tree
    from importlib import resources

    return Path(str(resources.files("kmigrate") / "rules"))


def load_rule_file(path: Path) -> Rule:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path.name}: invalid TOML: {exc}") from None
    rule = parse_rule(data, path.name)
    if not path.name.startswith(f"{rule.code}-"):
        raise RuleError(f"{path.name}: file name must start with the rule code {rule.code}-")
    return rule


@lru_cache(maxsize=4)
def load_rules(directory: Path | None = None, *, cache_dir: Path | None = None) -> tuple[Rule, ...]:
    """The rules in ``directory`` (default: the shipped ones, kept parsed in ``cache_dir`` if given)."""
    if directory is None and cache_dir is not None:
        from kmigrate import cache

        return cache.rules(cache_dir, load_rules)
    directory = directory or rules_dir()
    rules = [load_rule_file(p) for p in sorted(directory.glob("KM*.toml"))]
    seen: dict[str, str] = {}
    for rule in rules:
        for key in (rule.code, rule.name):
            if key in seen:
                raise RuleError(f"{rule.source}: {key} is also used by {seen[key]}")
            seen[key] = rule.source
    return tuple(sorted(rules, key=lambda r: r.code))


def rules_by_code(rules: tuple[Rule, ...]) -> dict[str, Rule]:
    return {r.code: r for r in rules}
