"""The result cache, ``.kmigrate_cache/``: one index of results per settings, and the parsed rules.

A result is served only when everything that produced it matches: the file's bytes, the rules
that apply to the file, the settings that change results (target version, unused suppressions,
unsafe fixes), the display path, and kmigrate itself (its sources and rule files). Only
``check`` results are kept. One index file per settings keeps a warm run to a single read
instead of one per checked file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kmigrate import __version__
from kmigrate.diagnostics import Diagnostic, FileError

if TYPE_CHECKING:
    from kmigrate.catalogue import Rule
    from kmigrate.versions import Target

CACHE_DIR_NAME = ".kmigrate_cache"
_SKIP_DIRS = frozenset({"__pycache__"})

Entry = tuple[tuple[Diagnostic, ...], "FileError | None"]


def _update(digest: Any, path: str, rel: str) -> None:
    with open(path, "rb") as handle:
        data = handle.read()
    digest.update(f"{rel}\0{len(data)}\0".encode())
    digest.update(data)


def _python_files(directory: str, rel: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        name = f"{rel}{entry.name}"
        if entry.is_dir():
            if entry.name not in _SKIP_DIRS:
                out += _python_files(entry.path, f"{name}/")
        elif entry.name.endswith(".py"):
            out.append((entry.path, name))
    return out


def fingerprint(package: str, rules: str) -> str:
    """kmigrate's version, the sources under ``package`` and the rule files in ``rules``."""
    # By content, not by stat: a cache restored on another machine (CI) stays valid.
    digest = hashlib.sha256(__version__.encode())
    for path, rel in _python_files(package):
        _update(digest, path, rel)
    for name in sorted(os.listdir(rules)):
        if name.endswith(".toml"):
            _update(digest, os.path.join(rules, name), f"rules/{name}")
    return digest.hexdigest()


@lru_cache(maxsize=4)
def _code_fingerprint(rules: str) -> str:
    return fingerprint(str(Path(__file__).resolve().parent), rules)


def code_fingerprint() -> str:
    """kmigrate's own sources and rules: any change to them invalidates the cache."""
    from kmigrate.catalogue import rules_dir

    return _code_fingerprint(str(rules_dir()))


def _read(path: Path) -> Any:
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except Exception:  # noqa: BLE001 - a damaged or foreign file is a miss, never a crash
        return None


def _write(path: Path, value: object) -> None:
    from kmigrate.sources import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a read-only tree simply runs without a cache


# --- Rules -----------------------------------------------------------------------------------


def rules(cache_dir: Path, load: Callable[[], tuple[Rule, ...]]) -> tuple[Rule, ...]:
    """The shipped rules, parsed once per change of kmigrate rather than once per run."""
    from kmigrate.catalogue import Rule

    path = cache_dir / __version__ / f"rules-{code_fingerprint()}.pickle"
    cached = _read(path)
    if isinstance(cached, tuple) and cached and all(isinstance(r, Rule) for r in cached):
        return cached
    loaded = load()
    _write(path, loaded)
    return loaded


# --- Results ---------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _settings_key(code: str, codes: tuple[str, ...], target: str, report_unused: bool, unsafe: bool) -> str:
    parts = [
        code,
        ",".join(sorted(codes)),
        "unused" if report_unused else "",
        target,
        "check",  # fixing is never cached
        "unsafe" if unsafe else "safe",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class ResultIndex:
    """Cached ``check`` results of one settings combination: display path -> (key, result)."""

    def __init__(self, cache_dir: Path, rules: dict[str, Rule], target: Target, *, report_unused: bool, unsafe: bool):
        self._code = code_fingerprint()
        self._target = str(target.version)
        self._report_unused = report_unused
        self._unsafe = unsafe
        name = self._settings(rules)
        self.path = cache_dir / __version__ / f"results-{name}.pickle"
        loaded = _read(self.path)
        self._entries: dict[str, tuple[str, Entry]] = loaded if isinstance(loaded, dict) else {}
        self._new: dict[str, tuple[str, Entry]] = {}

    def _settings(self, rules: dict[str, Rule]) -> str:
        return _settings_key(self._code, tuple(rules), self._target, self._report_unused, self._unsafe)

    def key(self, rules: dict[str, Rule], display: str, raw: bytes) -> str:
        digest = hashlib.sha256(self._settings(rules).encode())
        digest.update(display.encode())  # diagnostics carry the display path
        digest.update(b"\0")
        digest.update(raw)
        return digest.hexdigest()

    def __contains__(self, display: str) -> bool:
        """Whether some result for ``display`` is stored (its key may still differ)."""
        return display in self._entries

    def get(self, display: str, key: str) -> Entry | None:
        found = self._entries.get(display)
        if not (isinstance(found, tuple) and len(found) == 2 and found[0] == key):
            return None
        value = found[1]
        if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], tuple)):
            return None
        return value

    def put(self, display: str, key: str, value: Entry) -> None:
        self._new[display] = (key, value)

    def save(self) -> None:
        if not self._new:
            return
        # Another run may have written since this one read: keep its entries too.
        current = _read(self.path)
        merged = current if isinstance(current, dict) else {}
        merged.update(self._new)
        _write(self.path, merged)
        self._entries = merged
        self._new = {}
