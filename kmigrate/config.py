"""Settings: command-line flags over ``[tool.kmigrate]`` over defaults.

The configuration is the ``[tool.kmigrate]`` table of the nearest ``pyproject.toml`` (or a
``kmigrate.toml`` / ``.kmigrate.toml`` holding the same keys at top level) found from the
checked paths upwards; ``--config PATH`` forces one, ``--isolated`` ignores them all. Paths and
globs in the file are relative to the directory that holds it. Keys are kebab-case, as in ruff.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kmigrate.catalogue import Rule
from kmigrate.discovery import DEFAULT_EXCLUDES
from kmigrate.versions import Target, TargetError, detect_target, find_project_root, parse_target

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

FORMATS = ("full", "concise", "json", "json-lines", "github", "sarif")
CONFIG_NAMES = (".kmigrate.toml", "kmigrate.toml", "pyproject.toml")

_LIST = "a list of strings"
KEYS: dict[str, str] = {
    "select": _LIST,
    "extend-select": _LIST,
    "ignore": _LIST,
    "per-file-ignores": "a table of glob = [codes]",
    "exclude": _LIST,
    "extend-exclude": _LIST,
    "target-keras": 'a version string such as "3.4"',
    "unsafe-fixes": "true or false",
    "output-format": " | ".join(FORMATS),
    "report-unused-suppressions": "true or false",
    "verify": "a table",
}
# Read by `kmigrate verify` (kmigrate/verify/settings.py checks the values); here only the names,
# so that a typo fails every command, not just `verify`.
VERIFY_KEYS = ("input-shapes", "tolerances", "timeout", "steps", "python")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    target: Target = field(default_factory=Target)
    unsafe_fixes: bool = False
    output_format: str = "full"
    report_unused_suppressions: bool = False
    verify: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    config_path: Path | None = None
    base: Path = field(default_factory=Path.cwd)  # per-file-ignores globs are relative to it
    project_root: Path | None = None  # where the target version was looked for

    @property
    def excludes(self) -> tuple[str, ...]:
        return (*(DEFAULT_EXCLUDES if self.exclude is None else self.exclude), *self.extend_exclude)


@dataclass(frozen=True)
class Overrides:
    """What the command line says; ``None`` / empty = not given."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    target_keras: str | None = None
    unsafe_fixes: bool | None = None
    output_format: str | None = None
    report_unused_suppressions: bool | None = None


def _matches(rule: Rule, selector: str) -> bool:
    selector = selector.strip()
    if selector.upper() == "ALL":
        return True
    return rule.code.startswith(selector.upper()) or rule.name == selector


def _exact(rule: Rule, selector: str) -> bool:
    selector = selector.strip()
    return rule.code == selector.upper() or rule.name == selector


def validate_selectors(rules: tuple[Rule, ...], selectors: tuple[str, ...], what: str) -> None:
    for sel in selectors:
        if not any(_matches(r, sel) for r in rules):
            raise ConfigError(f"{what}: {sel!r} matches no rule (see `kmigrate rules`)")


def select_rules(rules: tuple[Rule, ...], settings: Settings) -> tuple[Rule, ...]:
    """Rules enabled by select/extend-select/ignore and the target Keras version."""
    chosen = []
    for rule in rules:
        if settings.select:
            on = any(_matches(rule, s) for s in settings.select)
        else:
            on = rule.default_enabled
        if any(_matches(rule, s) for s in settings.extend_select):
            on = True
        if on and not rule.default_enabled:
            # Rules that are off by default are only enabled when named exactly.
            on = any(_exact(rule, s) for s in (*settings.select, *settings.extend_select))
        if any(_matches(rule, s) for s in settings.ignore):
            on = False
        if on and settings.target.applies(rule.keras):
            chosen.append(rule)
    return tuple(chosen)


def file_ignores(settings: Settings, path: Path) -> tuple[str, ...]:
    return matching_ignores(settings.per_file_ignores, settings.base, path)


def matching_ignores(
    per_file_ignores: Sequence[tuple[str, tuple[str, ...]]], base: Path, path: Path
) -> tuple[str, ...]:
    """The selectors that ``per-file-ignores`` turns off for ``path``.

    A glob matches the path relative to the configuration's directory (``*`` crosses ``/``,
    and a directory matches everything below it) or the file's name alone, as in ruff.
    """
    if not per_file_ignores:
        return ()
    absolute = Path(os.path.abspath(path))
    try:
        rel = absolute.relative_to(base).as_posix()
    except ValueError:
        rel = absolute.as_posix()
    candidates = [rel, path.name]
    parts = rel.split("/")
    candidates += ["/".join(parts[:i]) for i in range(1, len(parts))]
    out: list[str] = []
    for pattern, codes in per_file_ignores:
        pat = pattern.rstrip("/")
        if pat.startswith("./"):
            pat = pat[2:]
        if any(fnmatch.fnmatchcase(c, pat) for c in candidates) or fnmatch.fnmatchcase(absolute.as_posix(), pat):
            out.extend(codes)
    return tuple(out)


def rules_for_file(enabled: Mapping[str, Rule], settings: Settings, path: Path) -> dict[str, Rule]:
    return without_ignored(enabled, file_ignores(settings, path))


def without_ignored(enabled: Mapping[str, Rule], ignored: Sequence[str]) -> dict[str, Rule]:
    if not ignored:
        return dict(enabled)
    return {c: r for c, r in enabled.items() if not any(_matches(r, s) for s in ignored)}


# --- Reading the file ------------------------------------------------------------------------


def _show(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _table_of(path: Path) -> dict[str, Any] | None:
    """The kmigrate table of a config file; None for a pyproject.toml without one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{_show(path)}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_show(path)}: invalid TOML: {exc}") from None
    if path.name != "pyproject.toml":
        return data
    tool = data.get("tool")
    if not isinstance(tool, dict) or "kmigrate" not in tool:
        return None
    table = tool["kmigrate"]
    if not isinstance(table, dict):
        raise ConfigError(f"{_show(path)}: [tool.kmigrate] must be a table")
    return table


def find_config(start: Path) -> Path | None:
    """The nearest configuration file at or above ``start``."""
    for directory in [start, *start.parents]:
        for name in CONFIG_NAMES:
            candidate = directory / name
            if candidate.is_file() and _table_of(candidate) is not None:
                return candidate
    return None


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: `{key}` must be {_LIST}")
    return tuple(value)


def _bool(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: `{key}` must be true or false")
    return value


def parse_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate a ``[tool.kmigrate]`` table; returns the values keyed by Settings field."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            import difflib

            close = difflib.get_close_matches(key.replace("_", "-"), list(KEYS), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else f" (known keys: {', '.join(KEYS)})"
            raise ConfigError(f"{where}: unknown key `{key}`{hint}")
        if key in ("select", "extend-select", "ignore", "exclude", "extend-exclude"):
            out[key.replace("-", "_")] = _strings(value, key, where)
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: `per-file-ignores` must be {KEYS[key]}")
            pfi = []
            for glob, codes in value.items():
                pfi.append((glob, _strings(codes, f"per-file-ignores.{glob}", where)))
            out["per_file_ignores"] = tuple(pfi)
        elif key == "target-keras":
            if not isinstance(value, str):
                # 3.10 written as a TOML float reads back as 3.1: insist on a string.
                raise ConfigError(f'{where}: `target-keras` must be a string such as "3.4", got {value!r}')
            try:
                out["target"] = parse_target(value, f"{where} target-keras")
            except TargetError as exc:
                raise ConfigError(f"{where}: `target-keras`: {exc}") from None
        elif key in ("unsafe-fixes", "report-unused-suppressions"):
            out[key.replace("-", "_")] = _bool(value, key, where)
        elif key == "output-format":
            if value not in FORMATS:
                raise ConfigError(f"{where}: `output-format` must be one of {', '.join(FORMATS)}, got {value!r}")
            out["output_format"] = value
        elif key == "verify":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: `verify` must be a table ([tool.kmigrate.verify])")
            for sub in value:
                if sub not in VERIFY_KEYS:
                    raise ConfigError(
                        f"{where}: unknown key `{sub}` in [tool.kmigrate.verify] (known keys: {', '.join(VERIFY_KEYS)})"
                    )
            out["verify"] = MappingProxyType(dict(value))
    return out


def _start(paths: Sequence[Path]) -> Path:
    if not paths:
        return Path.cwd()
    absolute = [Path(os.path.abspath(p)) for p in paths]
    dirs = [p if p.is_dir() else p.parent for p in absolute]
    try:
        return Path(os.path.commonpath([str(d) for d in dirs]))
    except ValueError:  # different drives
        return dirs[0]


def _absolute_patterns(patterns: tuple[str, ...], base: Path) -> tuple[str, ...]:
    """Globs with a ``/`` are anchored at ``base``; bare names match at any depth."""
    return tuple(str(base / p.lstrip("./")) if "/" in p.rstrip("/") else p.rstrip("/") for p in patterns)


def resolve(
    paths: Sequence[Path],
    overrides: Overrides,
    rules: tuple[Rule, ...],
    *,
    config: Path | None = None,
    isolated: bool = False,
) -> Settings:
    """Flags over the configuration file over defaults, validated against ``rules``."""
    start = _start(paths)
    config_path: Path | None = None
    values: dict[str, Any] = {}
    if config is not None:
        if not config.is_file():
            raise ConfigError(f"--config: {config}: no such file")
        table = _table_of(config)
        if table is None:
            raise ConfigError(f"--config: {_show(config)} has no [tool.kmigrate] table")
        config_path = config.resolve()
    elif not isolated:
        config_path = find_config(start)
        table = _table_of(config_path) if config_path is not None else None
    else:
        table = None
    where = f"{_show(config_path)} [tool.kmigrate]" if config_path and config_path.name == "pyproject.toml" else (
        _show(config_path) if config_path else ""
    )
    if table is not None:
        values = parse_table(table, where)
    base = config_path.parent if config_path is not None else Path.cwd()

    for key in ("select", "extend_select", "ignore"):
        if key in values:
            validate_selectors(rules, values[key], f"{where} {key.replace('_', '-')}")
    for glob, codes in values.get("per_file_ignores", ()):
        validate_selectors(rules, codes, f"{where} per-file-ignores.{glob}")
    validate_selectors(rules, overrides.select or (), "--select")
    validate_selectors(rules, overrides.extend_select, "--extend-select")
    validate_selectors(rules, overrides.ignore, "--ignore")
    for glob, codes in overrides.per_file_ignores:
        validate_selectors(rules, codes, f"--per-file-ignores {glob}")

    if overrides.target_keras is not None:
        try:
            target = parse_target(overrides.target_keras)
        except TargetError as exc:
            raise ConfigError(str(exc)) from None
        project_root = None
    elif "target" in values:
        target, project_root = values["target"], None
    else:
        project_root = config_path.parent if config_path is not None else find_project_root(start)
        target = detect_target(project_root) if project_root is not None else Target()

    fmt = overrides.output_format or values.get("output_format") or "full"
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")

    exclude = values.get("exclude")
    if exclude is not None:
        exclude = _absolute_patterns(exclude, base)
    if overrides.exclude is not None:
        exclude = _absolute_patterns(overrides.exclude, Path.cwd())
    extend_exclude = (
        *_absolute_patterns(values.get("extend_exclude", ()), base),
        *_absolute_patterns(overrides.extend_exclude, Path.cwd()),
    )
    per_file = tuple(values.get("per_file_ignores", ()))
    if overrides.per_file_ignores:
        # Command-line globs are relative to the current directory: anchor them there.
        cwd = Path.cwd()
        per_file += tuple(
            (_relative_glob(cwd, base, glob), codes) for glob, codes in overrides.per_file_ignores
        )
    return Settings(
        select=overrides.select if overrides.select is not None else values.get("select", ()),
        extend_select=(*values.get("extend_select", ()), *overrides.extend_select),
        ignore=(*values.get("ignore", ()), *overrides.ignore),
        per_file_ignores=per_file,
        exclude=exclude,
        extend_exclude=extend_exclude,
        target=target,
        unsafe_fixes=overrides.unsafe_fixes
        if overrides.unsafe_fixes is not None
        else values.get("unsafe_fixes", False),
        output_format=fmt,
        report_unused_suppressions=overrides.report_unused_suppressions
        if overrides.report_unused_suppressions is not None
        else values.get("report_unused_suppressions", False),
        verify=values.get("verify", MappingProxyType({})),
        config_path=config_path,
        base=base,
        project_root=project_root,
    )


def _relative_glob(cwd: Path, base: Path, glob: str) -> str:
    if "/" not in glob.rstrip("/"):
        return glob
    try:
        return (cwd / glob).relative_to(base).as_posix()
    except ValueError:
        return (cwd / glob).as_posix()


def parse_per_file_ignores(values: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``--per-file-ignores 'tests/*:KM101,KM102'`` -> (("tests/*", ("KM101", "KM102")),)."""
    out = []
    for value in values:
        glob, sep, codes = value.rpartition(":")
        if not sep or not glob or not codes.strip():
            raise ConfigError(f"--per-file-ignores: expected GLOB:CODES, got {value!r}")
        out.append((glob, tuple(c.strip() for c in codes.split(",") if c.strip())))
    return tuple(out)


def describe(settings: Settings, rules: Sequence[Rule], enabled: Sequence[Rule]) -> str:
    """``--show-settings``: what is in force and where it came from."""
    def row(key: str, value: object) -> str:
        return f"{key:<28} {value}"

    def listing(values: Sequence[str]) -> str:
        return ", ".join(values) if values else "(none)"

    lines = [
        row("config file", _show(settings.config_path) if settings.config_path else "(none)"),
        row("target", settings.target.describe()),
    ]
    if settings.project_root is not None:
        lines.append(row("project root (target search)", _show(settings.project_root)))
    lines += [
        row("output-format", settings.output_format),
        row("unsafe-fixes", str(settings.unsafe_fixes).lower()),
        row("report-unused-suppressions", str(settings.report_unused_suppressions).lower()),
        row("select", listing(settings.select) if settings.select else "(default rules)"),
        row("extend-select", listing(settings.extend_select)),
        row("ignore", listing(settings.ignore)),
        row(
            "per-file-ignores",
            listing([f"{g}: {','.join(c)}" for g, c in settings.per_file_ignores]),
        ),
        row("exclude", listing(settings.excludes)),
    ]
    if settings.verify:
        lines.append(row("verify", ", ".join(f"{k} = {v!r}" for k, v in settings.verify.items())))
    skipped = [r for r in rules if r not in enabled]
    lines.append(row("rules enabled", f"{len(enabled)} of {len(rules)}"))
    lines += [f"  {r.code}  {r.name}" for r in enabled]
    if skipped:
        lines.append(row("rules not enabled", len(skipped)))
        for r in skipped:
            why = (
                f"not for Keras {settings.target.version}"
                if not settings.target.applies(r.keras)
                else "off by default" if not r.default_enabled else "not selected"
            )
            lines.append(f"  {r.code}  {r.name}  ({why})")
    return "\n".join(lines) + "\n"
