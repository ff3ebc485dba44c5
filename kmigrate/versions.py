"""The Keras version a migration targets, and which rules apply to it."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version


class TargetError(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    """``version`` None means "Keras 3, minor version unknown": every rule is reported."""

    version: Version | None = None
    source: str = "default"

    @property
    def unknown(self) -> bool:
        return self.version is None

    def applies(self, specifier: str) -> bool:
        if self.version is None:
            return True
        return SpecifierSet(specifier).contains(self.version, prereleases=True)

    def describe(self) -> str:
        shown = str(self.version) if self.version is not None else "3.x (minor unknown)"
        return f"Keras {shown} ({self.source})"


def parse_target(text: str, source: str = "--target-keras") -> Target:
    text = text.strip()
    if text.lower() in ("", "3", "3.x", "auto"):
        return Target(None, source)
    try:
        version = Version(text)
    except InvalidVersion:
        raise TargetError(f"invalid Keras version {text!r} (expected e.g. 3.4 or 3.12.0)") from None
    if version.major != 3:
        raise TargetError(f"kmigrate targets Keras 3; got {text!r}")
    # "3.4" means "some 3.4.x": compare as 3.4.0, which satisfies ">=3.0,<3.12" exactly as 3.4.1 would.
    return Target(version, source)
