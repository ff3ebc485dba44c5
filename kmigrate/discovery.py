"""Paths -> the files to check: ``.py`` and ``.ipynb``, minus excluded and git-ignored ones."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".env",
    "env",
    "build",
    "dist",
    "__pycache__",
    "site-packages",
    "node_modules",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".kmigrate_cache",
    ".ipynb_checkpoints",
    "*.egg-info",
)
SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class _GitPattern:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool


def _translate(pattern: str) -> str:
    """A gitignore glob (relative, without leading '/') -> regex for a '/'-joined path."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1 : j].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j + 1
        elif c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def parse_gitignore(text: str) -> list[_GitPattern]:
    patterns: list[_GitPattern] = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        regex = f"^{body}$" if anchored else f"^(?:.*/)?{body}$"
        patterns.append(_GitPattern(re.compile(regex), negated, dir_only))
    return patterns


@dataclass
class _IgnoreLayer:
    base: str  # real path of the directory holding the .gitignore
    patterns: list[_GitPattern]


def _relative(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` ('/'-joined), or None when it is not below it."""
    if path == base:
        return "."
    prefix = base if base.endswith("/") else base + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None


@dataclass
class Discovery:
    """Walks paths and yields files to check; remembers why paths were skipped."""

    exclude: Sequence[str] = DEFAULT_EXCLUDES
    extend_exclude: Sequence[str] = ()
    respect_gitignore: bool = True
    suffixes: Sequence[str] = SUFFIXES
    force_exclude: bool = False  # apply excludes to explicitly named files too (pre-commit)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def _name_regex(self) -> re.Pattern[str] | None:
        """All plain-name patterns as one compiled regex (this runs for every directory entry)."""
        cached = self.__dict__.get("_name_re", False)
        if cached is not False:
            return cached
        names = [p for p in (*self.exclude, *self.extend_exclude) if "/" not in p]
        regex = re.compile("|".join(fnmatch.translate(p) for p in names)) if names else None
        self.__dict__["_name_re"] = regex
        return regex

    def _path_patterns(self) -> tuple[str, ...]:
        return tuple(p for p in (*self.exclude, *self.extend_exclude) if "/" in p)

    def _excluded_name(self, path: Path) -> bool:
        return self._excluded(path.name, path, self._path_patterns())

    def _excluded(self, name: str, path: Path | str, path_patterns: tuple[str, ...]) -> bool:
        regex = self._name_regex()
        if regex is not None and regex.match(name):
            return True
        if not path_patterns:
            return False
        posix = Path(path).as_posix()
        for pat in path_patterns:
            if os.path.isabs(pat):
                # Anchored at the configuration's directory (see config.py).
                if fnmatch.fnmatch(os.path.abspath(path), pat):
                    return True
            elif fnmatch.fnmatch(posix, pat) or fnmatch.fnmatch(posix, f"*/{pat.strip('/')}"):
                return True
        return False

    def is_excluded(self, path: Path) -> bool:
        """For explicitly named files (pre-commit passes each file): user excludes apply.

        Only the part of the path below the current directory is looked at, so a checkout
        that lives under, say, ``build/`` is not excluded as a whole.
        """
        absolute = Path(os.path.abspath(path))
        try:
            rel = absolute.relative_to(Path.cwd())
        except ValueError:
            rel = path
        return any(self._excluded_name(p) for p in [rel, *rel.parents] if p.name)

    @staticmethod
    def _ignored(path: str, is_dir: bool, layers: list[_IgnoreLayer]) -> bool:
        ignored = False
        for layer in layers:
            rel = _relative(path, layer.base)
            if rel is None:
                continue
            for pat in layer.patterns:
                if pat.dir_only and not is_dir:
                    continue
                if pat.regex.match(rel):
                    ignored = not pat.negated
        return ignored

    def _root_layers(self, directory: Path) -> list[_IgnoreLayer]:
        """.gitignore files of the enclosing repository, from its top down to ``directory``."""
        if not self.respect_gitignore:
            return []
        chain: list[Path] = []
        for parent in [directory, *directory.parents]:
            chain.append(parent)
            if (parent / ".git").exists():
                break
        else:
            return []
        layers = []
        for parent in reversed(chain[1:]):
            gi = parent / ".gitignore"
            if gi.is_file():
                layers.append(_IgnoreLayer(str(parent), parse_gitignore(_read_text(gi))))
        return layers

    def walk(self, paths: Iterable[Path]) -> Iterator[Path]:
        seen: set[str] = set()
        for path in paths:
            if path.is_symlink() and not path.exists():
                self.errors.append((str(path), "broken symbolic link"))
                continue
            if not path.exists():
                self.errors.append((str(path), "no such file or directory"))
                continue
            if path.is_file():
                if self.force_exclude and self.is_excluded(path):
                    continue
                key = str(path.resolve())
                if key not in seen:
                    seen.add(key)
                    yield path
                continue
            real = path.resolve()
            layers = self._root_layers(real)
            yield from self._walk_dir(path, str(real), layers, seen, frozenset())

    def _walk_dir(
        self, directory: Path, real: str, layers: list[_IgnoreLayer], seen: set[str], active: frozenset[str]
    ) -> Iterator[Path]:
        # Strings, not Path objects, below: this runs for every entry of every directory.
        if real in active:
            self.errors.append((str(directory), "symbolic link loop; skipped"))
            return
        active = active | {real}
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except PermissionError:
            self.errors.append((str(directory), "permission denied"))
            return
        except OSError as exc:
            self.errors.append((str(directory), f"cannot list directory: {exc.strerror or exc}"))
            return
        if self.respect_gitignore:
            gi = next((e for e in entries if e.name == ".gitignore"), None)
            if gi is not None and _is_file(gi):
                layers = [*layers, _IgnoreLayer(real, parse_gitignore(_read_text(Path(gi.path))))]
        path_patterns = self._path_patterns()
        name_regex = self._name_regex()
        for entry in entries:
            name = entry.name
            if name_regex is not None and name_regex.match(name):
                continue
            if path_patterns and self._excluded(name, entry.path, path_patterns):
                continue
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError:
                is_dir = is_file = False
            link = entry.is_symlink()
            if link and not os.path.exists(entry.path):
                if _suffix(name) in self.suffixes:
                    self.errors.append((str(Path(entry.path)), "broken symbolic link"))
                continue
            # The directory's real path is known: only links need resolving (a stat per part).
            real_path = str(Path(entry.path).resolve()) if link else os.path.join(real, name)
            if layers and self._ignored(real_path if not link else str(Path(entry.path).absolute()), is_dir, layers):
                continue
            if is_dir:
                if os.path.isfile(os.path.join(entry.path, "pyvenv.cfg")):
                    continue  # a virtualenv
                yield from self._walk_dir(Path(entry.path), real_path, layers, seen, active)
            elif is_file and _suffix(name) in self.suffixes:
                if real_path in seen:
                    continue
                seen.add(real_path)
                yield Path(entry.path)


def _suffix(name: str) -> str:
    """``Path(name).suffix``, without building a Path."""
    i = name.rfind(".")
    return name[i:] if 0 < i < len(name) - 1 else ""


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
