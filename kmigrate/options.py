"""The options shared by the commands that read code (``check``, ``fix``, ...), declared once.

``COMMON`` lists them as typer parameters; :func:`common_options` gives a command all of them
and hands them over as one frozen :class:`Options`. Adding a shared flag is one entry in
``COMMON`` and one field in ``Options``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from kmigrate.config import FORMATS


def _split(values: Optional[list[str]]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values or ():
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return tuple(out)


PathsArg = Annotated[
    Optional[list[Path]], typer.Argument(help="Files or directories (default: the current directory).")
]
FormatOpt = Annotated[
    Optional[str],
    typer.Option(
        "--output-format",
        "--format",
        "-f",
        help=" | ".join(FORMATS),
        show_default=False,
        envvar="KMIGRATE_OUTPUT_FORMAT",
    ),
]
TargetOpt = Annotated[
    Optional[str],
    typer.Option(
        "--target-keras",
        help="Keras 3 version to migrate to, e.g. 3.4 (default: the tool.kmigrate config, else detected "
        "from the project's requirements, else every rule).",
    ),
]
SelectOpt = Annotated[
    Optional[list[str]], typer.Option("--select", help="Rule codes or prefixes to enable (comma-separated).")
]
ExtendSelectOpt = Annotated[
    Optional[list[str]], typer.Option("--extend-select", help="Rules to enable on top of the selection.")
]
IgnoreOpt = Annotated[
    Optional[list[str]], typer.Option("--ignore", help="Rule codes or prefixes to disable (comma-separated).")
]
PerFileIgnoresOpt = Annotated[
    Optional[list[str]],
    typer.Option("--per-file-ignores", help="GLOB:CODES, e.g. 'tests/*:KM101,KM3' (repeatable).", show_default=False),
]
ExcludeOpt = Annotated[
    Optional[list[str]],
    typer.Option("--exclude", help="Globs to skip instead of the default excludes.", show_default=False),
]
ExtendExcludeOpt = Annotated[
    Optional[list[str]], typer.Option("--extend-exclude", help="Globs to skip as well.", show_default=False)
]
ForceExcludeOpt = Annotated[
    bool, typer.Option("--force-exclude", help="Apply excludes to files named on the command line (pre-commit).")
]
UnsafeOpt = Annotated[
    Optional[bool],
    typer.Option("--unsafe-fixes/--no-unsafe-fixes", help="Also offer and apply fixes marked unsafe.", show_default=False),
]
ExitZeroOpt = Annotated[
    bool, typer.Option("--exit-zero", help="Exit 0 even when findings remain (errors still exit 2).")
]
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", help="Use this pyproject.toml / kmigrate.toml instead of searching.", show_default=False),
]
IsolatedOpt = Annotated[bool, typer.Option("--isolated", help="Ignore configuration files.")]
UnusedOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--report-unused-suppressions/--no-report-unused-suppressions",
        help="Report `# kmigrate: ignore` comments that silence nothing (KM001).",
        show_default=False,
    ),
]
ShowSettingsOpt = Annotated[
    bool, typer.Option("--show-settings", help="Print the settings in force, and where they came from; then exit.")
]
ShowFilesOpt = Annotated[bool, typer.Option("--show-files", help="Print the files that would be checked; then exit.")]
JobsOpt = Annotated[
    Optional[int], typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all cores).")
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Do not read or write the result cache (.kmigrate_cache/).")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print findings (or the diff) only: no summary, no progress.")]
SilentOpt = Annotated[bool, typer.Option("--silent", "-s", help="Print nothing; only the exit code tells.")]


@dataclass(frozen=True)
class Options:
    """The shared options of ``check`` and ``fix`` (and of any command decorated with them)."""

    paths: tuple[Path, ...] = ()
    output_format: str | None = None
    target_keras: str | None = None
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[str, ...] = ()
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    unsafe_fixes: bool | None = None
    report_unused_suppressions: bool | None = None
    exit_zero: bool = False
    config: Path | None = None
    isolated: bool = False
    show_settings: bool = False
    show_files: bool = False
    quiet: bool = False
    silent: bool = False
    jobs: int | None = None
    no_cache: bool = False


COMMON: tuple[tuple[str, Any, Any], ...] = (
    ("paths", PathsArg, None),
    ("output_format", FormatOpt, None),
    ("target_keras", TargetOpt, None),
    ("select", SelectOpt, None),
    ("extend_select", ExtendSelectOpt, None),
    ("ignore", IgnoreOpt, None),
    ("per_file_ignores", PerFileIgnoresOpt, None),
    ("exclude", ExcludeOpt, None),
    ("extend_exclude", ExtendExcludeOpt, None),
    ("force_exclude", ForceExcludeOpt, False),
    ("unsafe_fixes", UnsafeOpt, None),
    ("report_unused_suppressions", UnusedOpt, None),
    ("exit_zero", ExitZeroOpt, False),
    ("config", ConfigOpt, None),
    ("isolated", IsolatedOpt, False),
    ("show_settings", ShowSettingsOpt, False),
    ("show_files", ShowFilesOpt, False),
    ("quiet", QuietOpt, False),
    ("silent", SilentOpt, False),
    ("jobs", JobsOpt, None),
    ("no_cache", NoCacheOpt, False),
)
_LISTS = {"select", "extend_select", "ignore"}
_RAW_LISTS = {"per_file_ignores", "exclude", "extend_exclude", "paths"}
_KEEP_NONE = {"select", "exclude"}  # None ("not given") differs from empty for these


def _options(values: dict[str, Any]) -> Options:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in _LISTS:
            split = _split(value)
            out[name] = None if (value is None and name in _KEEP_NONE) else split
        elif name in _RAW_LISTS:
            out[name] = None if (value is None and name in _KEEP_NONE) else tuple(value or ())
        else:
            out[name] = value
    return Options(**out)


def common_options(fn: Callable[..., None]) -> Callable[..., None]:
    """Give ``fn(opts: Options, **own)`` every shared option, as typer parameters."""
    own = list(inspect.signature(fn, eval_str=True).parameters.values())[1:]
    params = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, annotation, default in COMMON
    ] + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
    names = {name for name, _, _ in COMMON}

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        common = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        return fn(_options(common), **kwargs)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__  # type: ignore[attr-defined]
    return wrapper
