"""``[tool.kmigrate.verify]`` in pyproject.toml -> :class:`VerifySettings`.

```toml
[tool.kmigrate.verify]
timeout = 60                       # seconds per probe
steps = 20                         # optimizer trajectory length
tolerances = { layer = 1e-5, trajectory = [1e-4, 1e-4], value = 1e-5 }   # atol or [atol, rtol]
input-shapes = { MyLayer = "(None, 8)", ConvLSTM2D = [2, 3, 6, 6, 2], "*" = "(None, 16)" }
```
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kmigrate.verify.spec import Shape, Tolerance, Tolerances, VerifySettings
from kmigrate.verify.shapes import parse_shape

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class VerifyConfigError(ValueError):
    pass


def find_pyproject(start: Path) -> Path | None:
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _tolerance(key: str, value: Any, default: Tolerance) -> Tolerance:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Tolerance(float(value), default.rtol)
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return Tolerance(float(value[0]), float(value[1]))
    raise VerifyConfigError(f"tolerances.{key}: expected a number (atol) or [atol, rtol]")


def _shape(key: str, value: Any) -> Shape:
    shape = parse_shape(value) if isinstance(value, str) else parse_shape(repr(value))
    if shape is None:
        raise VerifyConfigError(f"input-shapes.{key}: expected a shape such as \"(None, 8)\" or [2, 8]")
    return shape


def from_table(table: dict[str, Any], base: VerifySettings | None = None) -> VerifySettings:
    base = base or VerifySettings()
    known = {"timeout", "steps", "tolerances", "input-shapes", "python"}
    unknown = set(table) - known
    if unknown:
        raise VerifyConfigError(f"unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    tol = base.tolerances
    raw_tol = table.get("tolerances", {})
    if not isinstance(raw_tol, dict) or set(raw_tol) - {"layer", "trajectory", "value"}:
        raise VerifyConfigError("tolerances: expected a table with layer, trajectory and/or value")
    tol = Tolerances(
        layer=_tolerance("layer", raw_tol["layer"], tol.layer) if "layer" in raw_tol else tol.layer,
        trajectory=_tolerance("trajectory", raw_tol["trajectory"], tol.trajectory)
        if "trajectory" in raw_tol else tol.trajectory,
        value=_tolerance("value", raw_tol["value"], tol.value) if "value" in raw_tol else tol.value,
    )
    raw_shapes = table.get("input-shapes", {})
    if not isinstance(raw_shapes, dict):
        raise VerifyConfigError("input-shapes: expected a table of name = shape")
    shapes = tuple((str(k), _shape(k, v)) for k, v in raw_shapes.items())
    timeout = table.get("timeout", base.timeout)
    steps = table.get("steps", base.steps)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise VerifyConfigError("timeout: expected a positive number of seconds")
    if not isinstance(steps, int) or steps < 10:
        raise VerifyConfigError("steps: expected an integer >= 10")
    python = table.get("python", base.python)
    return VerifySettings(tol, shapes or base.input_shapes, float(timeout), steps, python)


def load(start: Path | None = None) -> VerifySettings:
    """Settings from the nearest pyproject.toml above ``start`` (default: the working directory)."""
    path = find_pyproject(start or Path.cwd())
    if path is None:
        return VerifySettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VerifyConfigError(f"{path}: {exc}") from None
    table = data.get("tool", {}).get("kmigrate", {}).get("verify", {})
    try:
        return from_table(table)
    except VerifyConfigError as exc:
        raise VerifyConfigError(f"{path}: [tool.kmigrate.verify] {exc}") from None
