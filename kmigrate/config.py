"""Settings: command-line flags over ``[tool.kmigrate]`` over defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from kmigrate.catalogue import Rule
from kmigrate.versions import Target


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
