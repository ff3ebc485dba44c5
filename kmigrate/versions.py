"""The Keras version a migration targets, and which rules apply to it."""

from __future__ import annotations

import ast
import configparser
import dataclasses
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet


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
        from packaging.specifiers import SpecifierSet

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


# --- Detection: the Keras the project declares (never executes anything) -----------------------

TENSORFLOW = frozenset(
    {
        "tensorflow",
        "tensorflow-cpu",
        "tensorflow-gpu",
        "tensorflow-macos",
        "tensorflow-intel",
        "tensorflow-aarch64",
        "tf-nightly",
        "tf-nightly-cpu",
    }
)
# TensorFlow 2.16 is the first release whose `tf.keras` is Keras 3.
FIRST_KERAS3_TF = Version("2.16")
_PROBE_PATCHES = (0, 1, 2, 3, 5, 9, 20, 99)
_MINORS = range(0, 100)
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "environment.yml", "environment.yaml")


@dataclass(frozen=True)
class Pin:
    """One declared requirement on Keras or TensorFlow, and where it was read."""

    package: str  # "keras" or "tensorflow"
    specifier: SpecifierSet
    where: str  # "requirements.txt:3"
    text: str  # as written, e.g. "keras==3.4.1"


def _minors(spec: SpecifierSet) -> set[int]:
    """The Keras 3 minor versions that ``spec`` allows."""
    return {
        m
        for m in _MINORS
        if any(spec.contains(Version(f"3.{m}.{p}"), prereleases=True) for p in _PROBE_PATCHES)
    }


def _allows_keras2(spec: SpecifierSet) -> bool:
    return any(spec.contains(Version(v), prereleases=True) for v in ("2.6.0", "2.10.0", "2.13.1", "2.15.0"))


def _tf_allows_keras3(spec: SpecifierSet) -> bool:
    return any(
        spec.contains(Version(f"2.{m}.{p}"), prereleases=True) for m in range(16, 60) for p in (0, 1)
    )


def _pin(text: str, where: str) -> Pin | None:
    text = text.strip()
    if not text or text.startswith(("-", "#")):
        return None
    # Imported here: parsing requirements is a few milliseconds of imports most runs never need.
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    name = canonicalize_name(req.name)
    if name == "keras":
        return Pin("keras", req.specifier, where, text)
    if name in TENSORFLOW:
        return Pin("tensorflow", req.specifier, where, text)
    return None


def _poetry_spec(value: object) -> str | None:
    """Poetry's constraint syntax -> PEP 440 (``^3.4`` -> ``>=3.4,<4.0``, ``~3.4`` -> ``>=3.4,<3.5``)."""
    if isinstance(value, dict):
        value = value.get("version")
    if not isinstance(value, str):
        return None
    out = []
    for part in value.split(","):
        part = part.strip()
        if not part or part == "*":
            continue
        if part[0] in "^~" and not part.startswith("~="):
            base = part[1:].strip()
            nums = [int(x) for x in re.findall(r"\d+", base)[:3]]
            if not nums:
                return None
            if part[0] == "^":
                i = next((k for k, n in enumerate(nums) if n != 0), len(nums) - 1)
                upper = nums[: i + 1]
            else:
                upper = nums[:2] if len(nums) >= 2 else nums[:1]
            upper = [*upper[:-1], upper[-1] + 1]
            out += [f">={base}", "<" + ".".join(map(str, upper))]
        elif part[0].isdigit():
            out.append(f"=={part}")
        else:
            out.append(part)
    return ",".join(out)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _requirements(path: Path, root: Path, seen: set[Path]) -> list[Pin]:
    real = path.resolve()
    if real in seen:
        return []
    seen.add(real)
    text = _read(path)
    if text is None:
        return []
    pins = []
    rel = _rel(path, root)
    logical = text.replace("\\\r\n", " ").replace("\\\n", " ")
    for number, line in enumerate(logical.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        m = re.match(r"^(?:-r|--requirement|-c|--constraint)\s*=?\s*(\S+)", line)
        if m:
            pins += _requirements(path.parent / m.group(1), root, seen)
            continue
        if line.startswith("-"):
            continue  # -e, --index-url, ...
        line = re.split(r"\s+--?[A-Za-z]", line)[0]  # --hash=... after the requirement
        pin = _pin(line, f"{rel}:{number}")
        if pin:
            pins.append(pin)
    return pins


def _read_toml(path: Path) -> dict | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _pyproject(path: Path, root: Path) -> list[Pin]:
    data = _read_toml(path)
    if data is None:
        return []
    rel = _rel(path, root)
    pins: list[Pin] = []
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    groups: list[tuple[str, object]] = [("project.dependencies", project.get("dependencies"))]
    extras = project.get("optional-dependencies")
    if isinstance(extras, dict):
        groups += [(f"project.optional-dependencies.{k}", v) for k, v in extras.items()]
    dep_groups = data.get("dependency-groups")
    if isinstance(dep_groups, dict):
        groups += [(f"dependency-groups.{k}", v) for k, v in dep_groups.items()]
    for where, items in groups:
        if isinstance(items, list):
            for item in items:
                if isinstance(item, str):
                    pin = _pin(item, f"{rel} {where}")
                    if pin:
                        pins.append(pin)
    poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
    tables: list[tuple[str, object]] = [
        ("tool.poetry.dependencies", poetry.get("dependencies")),
        ("tool.poetry.dev-dependencies", poetry.get("dev-dependencies")),
    ]
    if isinstance(poetry.get("group"), dict):
        tables += [
            (f"tool.poetry.group.{k}.dependencies", v.get("dependencies"))
            for k, v in poetry["group"].items()
            if isinstance(v, dict)
        ]
    for where, table in tables:
        if not isinstance(table, dict):
            continue
        for name, value in table.items():
            spec = _poetry_spec(value)
            if spec is None:
                continue
            pin = _pin(f"{name}{spec}", f"{rel} {where}")
            if pin:
                pins.append(dataclasses.replace(pin, text=f'{name} = "{value if isinstance(value, str) else value.get("version")}"'))
    return pins


def _setup_cfg(path: Path, root: Path) -> list[Pin]:
    text = _read(path)
    if text is None:
        return []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    value = parser.get("options", "install_requires", fallback="")
    rel = _rel(path, root)
    return [p for line in value.splitlines() if (p := _pin(line.split("#")[0], f"{rel} install_requires"))]


def _setup_py(path: Path, root: Path) -> list[Pin]:
    """``install_requires`` of ``setup(...)``: literals, or a module-level name bound to one."""
    text = _read(path)
    if text is None:
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    assigned: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value

    def strings(node: ast.expr | None, depth: int = 0) -> list[str]:
        if node is None or depth > 5:
            return []
        if isinstance(node, ast.Name) and node.id in assigned:
            return strings(assigned[node.id], depth + 1)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [s for elt in node.elts for s in strings(elt, depth + 1)]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return strings(node.left, depth + 1) + strings(node.right, depth + 1)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        return []

    rel = _rel(path, root)
    pins = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name != "setup":
            continue
        for kw in node.keywords:
            if kw.arg == "install_requires":
                pins += [p for s in strings(kw.value) if (p := _pin(s, f"{rel} install_requires"))]
    return pins


def _conda_spec(spec: str) -> str:
    """``keras=3.4`` (conda: version prefix) -> ``keras==3.4.*``; pip syntax passes through."""
    spec = spec.split("::")[-1].strip()
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*=\s*([0-9][^=\s]*)(?:=\S+)?$", spec)
    if m:
        version = m.group(2).rstrip(".*")
        return f"{m.group(1)}=={version}.*"
    return re.sub(r"^([A-Za-z0-9_.\-]+)\s+", r"\1", spec)


def _environment_yml(path: Path, root: Path) -> list[Pin]:
    text = _read(path)
    if text is None:
        return []
    rel = _rel(path, root)
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^\s*-\s+['\"]?([^'\"#]+?)['\"]?\s*(?:#.*)?$", line)
        if not m or m.group(1).rstrip().endswith(":"):
            continue
        pin = _pin(_conda_spec(m.group(1)), f"{rel}:{number}")
        if pin:
            pins.append(dataclasses.replace(pin, text=m.group(1).strip()))
    return pins


def _lockfile(path: Path, root: Path) -> list[Pin]:
    """uv.lock / poetry.lock: the resolved version, as exact as it gets."""
    data = _read_toml(path)
    if data is None:
        return []
    rel = _rel(path, root)
    pins = []
    for pkg in data.get("package", []):
        if isinstance(pkg, dict) and isinstance(pkg.get("name"), str) and isinstance(pkg.get("version"), str):
            pin = _pin(f"{pkg['name']}=={pkg['version']}", rel)
            if pin:
                pins.append(pin)
    return pins


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def declared_pins(root: Path) -> list[Pin]:
    """Every Keras/TensorFlow requirement the project at ``root`` declares."""
    pins: list[Pin] = []
    pins += _pyproject(root / "pyproject.toml", root)
    pins += _setup_cfg(root / "setup.cfg", root)
    pins += _setup_py(root / "setup.py", root)
    seen: set[Path] = set()
    for req in sorted([*root.glob("requirements*.txt"), *root.glob("requirements/*.txt")]):
        pins += _requirements(req, root, seen)
    for env in ("environment.yml", "environment.yaml"):
        pins += _environment_yml(root / env, root)
    for lock in ("uv.lock", "poetry.lock"):
        pins += _lockfile(root / lock, root)
    return pins


def detect_target(root: Path) -> Target:
    """The Keras 3 version the project at ``root`` is on, from what it declares.

    Only an exact Keras minor gives a version: ``keras==3.4.1`` -> 3.4.1, ``keras>=3.4,<3.5`` ->
    3.4. ``tensorflow>=2.16`` means Keras 3 of unknown minor; ``keras<3`` or
    ``tensorflow<2.16`` means the project is still on Keras 2: the target is then Keras 3 of
    unknown minor too (every rule reported), and the source says so.
    """
    from packaging.specifiers import SpecifierSet

    pins = declared_pins(root)
    keras = [p for p in pins if p.package == "keras"]
    tf = [p for p in pins if p.package == "tensorflow"]
    if keras:
        combined = SpecifierSet()
        for p in keras:
            combined &= p.specifier
        shown = "; ".join(f"{p.text} ({p.where})" for p in keras)
        minors = _minors(combined)
        if len(minors) == 1:
            exact = [s.version for s in combined if s.operator in ("==", "===") and "*" not in s.version]
            version = Version(exact[0]) if len(exact) == 1 and Version(exact[0]).minor in minors else Version(f"3.{minors.pop()}")
            return Target(version, f"detected from {shown}")
        if not minors and _allows_keras2(combined):
            return Target(None, f"detected from {shown}: the project is still on Keras 2")
        if not minors:
            return Target(None, f"detected from {shown}: no Keras version satisfies all of these")
        return Target(None, f"detected from {shown}: Keras 3 minor not pinned")
    if tf:
        shown = "; ".join(f"{p.text} ({p.where})" for p in tf)
        combined = SpecifierSet()
        for p in tf:
            combined &= p.specifier
        if not _tf_allows_keras3(combined):
            return Target(None, f"detected from {shown}: the project is still on Keras 2 (TensorFlow < 2.16)")
        return Target(None, f"detected from {shown}: TensorFlow >= 2.16 bundles Keras 3 of some minor version")
    return Target(None, "default: no keras or tensorflow requirement found")


def find_project_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` that declares a project, up to the repository top."""
    for directory in [start, *start.parents]:
        if any((directory / m).is_file() for m in PROJECT_MARKERS) or any(directory.glob("requirements*.txt")):
            return directory
        if (directory / ".git").exists():
            return None
    return None
