"""The command line: check, fix, rules, explain. The only module that talks to the terminal.

Options shared by the commands that read code are declared once, in ``kmigrate.options``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

# What only some commands need is imported where it is used: a cached `check` stays light.
from kmigrate import __version__
from kmigrate.cache import CACHE_DIR_NAME
from kmigrate.catalogue import Rule, RuleError, load_rules
from kmigrate.config import (
    ConfigError,
    Overrides,
    Settings,
    describe,
    parse_per_file_ignores,
    resolve,
    rules_for_file,
    select_rules,
)
from kmigrate.diagnostics import Diagnostic, FileError
from kmigrate.discovery import Discovery
from kmigrate.explain import explain_text
from kmigrate.options import (  # noqa: F401 - re-exported for commands added elsewhere
    COMMON,
    ExitZeroOpt,
    FormatOpt,
    Options,
    PathsArg,
    common_options,
)
from kmigrate.parallel import Job, process_files
from kmigrate.report import Report
from kmigrate.results import FileResult, Vetter
from kmigrate.sources import atomic_write

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Find Keras 2 idioms whose behaviour changes in Keras 3, fix them, and prove the fixes.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
REPORTERS = {
    "full": "full",
    "concise": "concise",
    "json": "json_",
    "json-lines": "json_lines",
    "github": "github",
    "sarif": "sarif",
}
MACHINE_FORMATS = ("json", "json-lines", "sarif")  # stdout must stay parseable
PROGRESS_MIN_FILES = 20


class UsageError(Exception):
    """Bad flags or configuration: one line on stderr, exit 2."""


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _guard(fn):  # type: ignore[no-untyped-def]
    """Turn usage errors into one line on stderr and exit 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except UsageError as exc:
            _err(str(exc))
            raise typer.Exit(EXIT_ERROR) from None
        except ConfigError as exc:
            _err(f"error: {exc}")
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


# --- One run: settings, files, results -------------------------------------------------------


@dataclass(frozen=True)
class Run:
    settings: Settings
    rules: tuple[Rule, ...]
    enabled: dict[str, Rule]
    files: list[Path]
    discovery_errors: list[FileError]
    options: Options = field(default_factory=Options)

    def rules_for(self, path: Path) -> dict[str, Rule]:
        return rules_for_file(self.enabled, self.settings, path)

    @property
    def quiet(self) -> bool:
        return self.options.quiet or self.options.silent


def _load_rules(cache_dir: Path | None = None) -> tuple[Rule, ...]:
    try:
        return load_rules(cache_dir=cache_dir) if cache_dir is not None else load_rules()
    except RuleError as exc:
        raise UsageError(f"error: invalid rule file: {exc}") from None


def _cache_dir(opts: Options) -> Path | None:
    return None if opts.no_cache else Path.cwd() / CACHE_DIR_NAME


def _prepare(opts: Options, *, cached: bool = False) -> Run:
    """Settings, rules and files; ``cached``: keep the parsed rules with the results (``check``)."""
    all_rules = _load_rules(_cache_dir(opts) if cached else None)
    overrides = Overrides(
        select=opts.select,
        extend_select=opts.extend_select,
        ignore=opts.ignore,
        per_file_ignores=parse_per_file_ignores(opts.per_file_ignores),
        exclude=opts.exclude,
        extend_exclude=opts.extend_exclude,
        target_keras=opts.target_keras,
        unsafe_fixes=opts.unsafe_fixes,
        output_format=opts.output_format,
        report_unused_suppressions=opts.report_unused_suppressions,
    )
    settings = resolve(opts.paths, overrides, all_rules, config=opts.config, isolated=opts.isolated)
    enabled = {r.code: r for r in select_rules(all_rules, settings)}
    discovery = Discovery(
        exclude=settings.excludes,
        force_exclude=opts.force_exclude,
    )
    files = list(discovery.walk(opts.paths or [Path(".")]))
    errors = [FileError(p, m) for p, m in discovery.errors]
    return Run(settings, all_rules, enabled, files, errors, opts)


@contextmanager
def _progress(run: Run, total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress callback drawing a bar on stderr, when it is a terminal and the run is long."""
    if run.quiet or total < PROGRESS_MIN_FILES or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("checking", total=total)
        yield lambda n: bar.advance(task, n)


def _process(run: Run, *, fix: bool, vet: Optional[Vetter] = None) -> list[FileResult]:
    opts = run.options
    job = Job(
        rules=run.enabled,
        target=run.settings.target,
        fix=fix,
        unsafe=run.settings.unsafe_fixes,
        cache_dir=_cache_dir(opts),
        report_unused=run.settings.report_unused_suppressions,
        per_file_ignores=run.settings.per_file_ignores,
        base=run.settings.base,
    )
    with _progress(run, len(run.files)) as progress:
        return process_files(run.files, job, jobs=opts.jobs, vet=vet, progress=progress)


def _report(
    run: Run,
    results: list[FileResult],
    command: str,
    diags: list[Diagnostic],
    fixed: bool = False,
    **extra: Any,
) -> Report:
    errors = [*run.discovery_errors, *(r.error for r in results if r.error is not None)]
    # After --apply the remaining findings point into the rewritten text.
    sources = {
        r.display: (r.fixed_text if fixed and r.fixed_text is not None else r.source.text)
        for r in results
        if r.source is not None
    }
    notebooks = {}
    if not fixed:
        for r in results:
            if r.source is not None and r.source.is_notebook:
                notebooks[r.display] = r.source
    return Report(
        diagnostics=sorted(diags, key=Diagnostic.sort_key),
        errors=errors,
        files_checked=sum(1 for r in results if r.error is None),
        rules={r.code: r for r in run.rules},
        sources=sources,
        unsafe_fixes=run.settings.unsafe_fixes,
        command=command,
        notebooks=notebooks,
        **extra,
    )


def _render(report: Report, fmt: str) -> str:
    return import_module(f"kmigrate.report.{REPORTERS[fmt]}").render(report)


def _findings_text(run: Run, report: Report, fmt: str) -> str:
    """The rendered findings; ``--quiet`` drops the summary line of ``full``."""
    text = _render(report, fmt)
    if run.quiet and fmt == "full":
        from kmigrate.report import summary_line

        tail = summary_line(report) + "\n"
        if text.endswith(tail):
            text = text[: -len(tail)].rstrip("\n") + ("\n" if report.diagnostics else "")
    return text


def _emit(run: Run, report: Report, fmt: str) -> None:
    """Findings on stdout, errors on stderr."""
    if run.options.silent:
        return
    sys.stdout.write(_findings_text(run, report, fmt))
    if fmt == "github":
        _github_summary(report)
    _emit_errors(run, report, fmt)


def _emit_errors(run: Run, report: Report, fmt: str) -> None:
    if fmt in MACHINE_FORMATS or run.options.silent:
        return  # machine formats carry them; stderr stays quiet for machine consumers
    for e in report.errors:
        _err(e.render())


def _github_summary(report: Report) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    from kmigrate.report.github import step_summary

    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(step_summary(report))
    except OSError as exc:
        _err(f"warning: cannot write the step summary to {path}: {exc.strerror or exc}")


def _exit_code(report: Report, exit_zero: bool, findings: bool) -> int:
    if report.errors:
        return EXIT_ERROR
    if findings and not exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _early_exit(run: Run) -> bool:
    """--show-settings / --show-files: print and stop."""
    if run.options.show_settings:
        sys.stdout.write(describe(run.settings, run.rules, list(run.enabled.values())))
        return True
    if run.options.show_files:
        for path in run.files:
            sys.stdout.write(f"{path}\n")
        for e in run.discovery_errors:
            _err(e.render())
        return True
    return False


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- check -----------------------------------------------------------------------------------

AddSuppressionsOpt = Annotated[
    bool,
    typer.Option(
        "--add-suppressions",
        help="Add `# kmigrate: ignore[CODE]` to every line with a finding (baseline an existing code base).",
    ),
]
StatisticsOpt = Annotated[
    bool, typer.Option("--statistics", help="Show how many findings each rule has, instead of the findings.")
]


@app.command()
@_guard
@common_options
def check(opts: Options, add_suppressions: AddSuppressionsOpt = False, statistics: StatisticsOpt = False) -> None:
    """Report Keras 2 idioms whose behaviour changes in Keras 3."""
    run = _prepare(opts, cached=True)
    if _early_exit(run):
        raise typer.Exit(EXIT_CLEAN)
    results = _process(run, fix=False)
    if add_suppressions:
        raise typer.Exit(_add_suppressions(run, results))
    diags = [d for r in results for d in r.diagnostics]
    report = _report(run, results, "check", diags)
    fmt = run.settings.output_format
    if statistics:
        if not opts.silent:
            from kmigrate.report.statistics import render as render_statistics

            sys.stdout.write(render_statistics(report, as_json=fmt in MACHINE_FORMATS))
            _emit_errors(run, report, fmt)
    else:
        _emit(run, report, fmt)
    raise typer.Exit(_exit_code(report, opts.exit_zero, bool(diags)))


def _add_suppressions(run: Run, results: list[FileResult]) -> int:
    from kmigrate import suppressions

    added = 0
    files = 0
    errors: list[FileError] = [*run.discovery_errors, *(r.error for r in results if r.error)]
    for r in results:
        todo = [d for d in r.diagnostics if d.code != suppressions.UNUSED_CODE]
        if r.source is None or not todo:
            continue
        new_text, n = suppressions.add(r.source.text, todo)
        if not n:
            continue
        from kmigrate.runner import parse

        if isinstance(parse(new_text, r.display), FileError):
            errors.append(FileError(r.display, "adding suppressions would break the file; left unchanged"))
            continue
        try:
            atomic_write(r.source.path, r.source.render(new_text))
        except (OSError, ValueError) as exc:
            errors.append(FileError(r.display, f"cannot write: {getattr(exc, 'strerror', None) or exc}"))
            continue
        added += n
        files += 1
    if not run.options.silent:
        for e in errors:
            _err(e.render())
        if not run.quiet:
            _err(f"Added {_plural(added, 'suppression')} to {_plural(files, 'file')}.")
    return EXIT_ERROR if errors else EXIT_CLEAN


# --- fix -------------------------------------------------------------------------------------


def unified_diff(result: FileResult) -> str:
    assert result.source is not None and result.fixed_text is not None
    import difflib

    source = result.source
    if source.is_notebook:
        return source.diff(result.fixed_text, result.display)  # type: ignore[attr-defined]
    old = source.raw.decode(source.encoding, errors="replace")
    new = source.render(result.fixed_text).decode(source.encoding, errors="replace")
    if source.bom:
        old, new = old.lstrip("\ufeff"), new.lstrip("\ufeff")
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{result.display}",
        tofile=f"b/{result.display}",
    )
    out = []
    for line in lines:
        out.append(line)
        if not line.endswith(("\n", "\r")):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def _renderable(results: Iterable[FileResult]) -> tuple[list[FileResult], list[FileError]]:
    """Changed files whose rewrite can be written back (a notebook may refuse); the rest as errors."""
    ok, bad = [], []
    for r in results:
        if not r.changed:
            continue
        assert r.source is not None and r.fixed_text is not None
        try:
            r.source.render(r.fixed_text)
        except ValueError as exc:
            bad.append(FileError(r.display, str(exc)))
            continue
        ok.append(r)
    return ok, bad


ApplyOpt = Annotated[bool, typer.Option("--apply", help="Write the fixes (default: print a diff).")]
VerifyOpt = Annotated[
    bool,
    typer.Option(
        "--verify", help="Prove each fix by running it under Keras 2 and Keras 3; hold back fixes that differ."
    ),
]
ExitOnFixOpt = Annotated[
    bool, typer.Option("--exit-non-zero-on-fix", help="Exit 1 when files were changed, even if nothing remains.")
]


@app.command()
@_guard
@common_options
def fix(
    opts: Options,
    apply: ApplyOpt = False,
    exit_non_zero_on_fix: ExitOnFixOpt = False,
    verify: VerifyOpt = False,
) -> None:
    """Print the rewrite as a unified diff; with --apply, write it."""
    run = _prepare(opts)
    if _early_exit(run):
        raise typer.Exit(EXIT_CLEAN)
    results = _process_verified(run) if verify else _process(run, fix=True)
    fmt = run.settings.output_format
    changed, write_errors = _renderable(results)
    refused = {e.path for e in write_errors}
    results = [
        r if r.display not in refused else replace(r, fixed_text=None, fixes_applied=0, diagnostics=r.initial)
        for r in results
    ]
    if apply:
        for r in changed:
            assert r.source is not None and r.fixed_text is not None
            try:
                atomic_write(r.source.path, r.source.render(r.fixed_text))
            except OSError as exc:
                write_errors.append(FileError(r.display, f"cannot write: {exc.strerror or exc}"))
    applied = sum(r.fixes_applied for r in results)
    remaining = [d for r in results for d in r.diagnostics]
    initial = [d for r in results for d in (r.initial or r.diagnostics)]
    report = _report(
        run,
        results,
        "fix",
        remaining if apply else initial,
        fixed=apply,
        fixes_applied=applied,
        files_changed=len(changed),
    )
    if write_errors:
        report = replace(report, errors=[*report.errors, *write_errors])
    if not opts.silent:
        for r in results:
            for w in r.warnings:
                _err(f"warning: {w}")
    if verify and fmt != "json" and not opts.silent:
        from kmigrate.verify.report import fix_verdicts

        sys.stderr.write(fix_verdicts(sorted(initial, key=Diagnostic.sort_key), fmt))
    _fix_output(run, report, fmt, changed, apply, applied, remaining)
    findings = bool(remaining) or (bool(changed) and (not apply or exit_non_zero_on_fix))
    raise typer.Exit(_exit_code(report, opts.exit_zero, findings))


def _fix_output(
    run: Run,
    report: Report,
    fmt: str,
    changed: list[FileResult],
    apply: bool,
    applied: int,
    remaining: list[Diagnostic],
) -> None:
    if run.options.silent:
        return
    if fmt == "json":
        payload = json.loads(_render(report, "json"))
        payload["files"] = [
            {"path": r.display, "changed": True, "diff": "" if apply else unified_diff(r)} for r in changed
        ]
        payload["applied"] = apply
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    if fmt in MACHINE_FORMATS or fmt == "github":
        sys.stdout.write(_render(report, fmt))
    elif apply:
        if remaining:
            sys.stdout.write(_findings_text(run, report, fmt))
    else:
        for r in changed:
            sys.stdout.write(unified_diff(r))
    if not run.quiet and fmt not in MACHINE_FORMATS:
        files = _plural(len(changed), "file")
        if apply:
            _err(f"Fixed {_plural(applied, 'finding')} in {files}; {len(remaining)} remaining.")
        else:
            _err(
                f"Would fix {_plural(applied, 'finding')} in {files} (run with --apply to write); "
                f"{len(remaining)} would remain."
            )
    _emit_errors(run, report, fmt)


# --- rules, explain --------------------------------------------------------------------------


# ---------------------------------------------------------------- dynamic verification
def _verify_settings(paths: Optional[list[Path]], timeout: Optional[float] = None):  # type: ignore[no-untyped-def]
    from kmigrate.verify.settings import VerifyConfigError, load

    try:
        settings = load((paths or [Path(".")])[0])
    except VerifyConfigError as exc:
        raise UsageError(f"error: {exc}") from None
    if timeout is not None:
        import dataclasses

        settings = dataclasses.replace(settings, timeout=timeout)
    return settings


def _process_verified(run: Run) -> list[FileResult]:
    from kmigrate.verify.api import Prober, make_vetter

    with Prober(_verify_settings(run.files[:1] or None)) as prober:
        return _process(run, fix=True, vet=make_vetter(prober, run.enabled, run.settings.unsafe_fixes))


@app.command("verify")
@_guard
def verify_cmd(
    paths: PathsArg = None,
    output_format: FormatOpt = None,
    timeout: Annotated[
        Optional[float], typer.Option("--timeout", help="Seconds per probe (default: 60, or [tool.kmigrate.verify]).")
    ] = None,
    exit_zero: ExitZeroOpt = False,
) -> None:
    """Run every custom layer and Keras construction under Keras 2 and Keras 3; report differences."""
    from kmigrate.verify.api import verify_paths
    from kmigrate.verify.report import FORMATS as VERIFY_FORMATS, render

    fmt = output_format or "full"
    if fmt not in VERIFY_FORMATS:
        raise UsageError(f"error: unknown format {fmt!r} (choose from {', '.join(VERIFY_FORMATS)})")
    settings = _verify_settings(paths, timeout)
    discovery = Discovery()
    files = list(discovery.walk(paths or [Path(".")]))
    progress = None if fmt == "json" else (lambda msg: _err(f"probing {msg}"))
    report = verify_paths(files, settings, progress=progress)
    sys.stdout.write(render(report, fmt))
    errors = [*(FileError(p, m) for p, m in discovery.errors), *report.errors]
    if fmt != "json":
        for e in errors:
            _err(e.render())
    if errors:
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(EXIT_FINDINGS if report.differs and not exit_zero else EXIT_CLEAN)


@app.command("rules")
@_guard
def rules_cmd(
    output_format: Annotated[
        Optional[str], typer.Option("--output-format", "--format", "-f", help="table | json")
    ] = None,
) -> None:
    """List every rule."""
    rules = _load_rules()
    fmt = output_format or "table"
    if fmt == "json":
        sys.stdout.write(json.dumps([r.to_json() for r in rules], indent=2) + "\n")
        return
    if fmt not in ("table", "full", "concise"):
        raise UsageError(f"error: unknown format {fmt!r} (choose from table, json)")
    for r in rules:
        entries = ",".join(str(c) for c in r.catalogue)
        off = "" if r.default_enabled else " (off by default)"
        sys.stdout.write(f"{r.code}  {r.name:<40} {r.breaks:<12} fix={r.fix:<6} [{entries}] {r.title}{off}\n")


@app.command()
@_guard
def explain(code: Annotated[str, typer.Argument(help="A rule code (KM101) or name.")]) -> None:
    """Show a rule's documentation."""
    from kmigrate import suppressions

    rules = _load_rules()
    for r in rules:
        if r.code == code.upper() or r.name == code:
            sys.stdout.write(explain_text(r))
            return
    if code.upper() == suppressions.UNUSED_CODE or code == suppressions.UNUSED_NAME:
        sys.stdout.write(suppressions.EXPLAIN_UNUSED)
        return
    raise UsageError(f"error: unknown rule {code!r} (see `kmigrate rules`)")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"kmigrate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    pass


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
