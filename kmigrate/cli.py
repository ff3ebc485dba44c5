"""The command line: check, fix, rules, explain. The only module that talks to the terminal."""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from kmigrate import __version__
from kmigrate.catalogue import Rule, RuleError, load_rules
from kmigrate.config import ConfigError, Settings, select_rules, validate_selectors
from kmigrate.diagnostics import Diagnostic, FileError
from kmigrate.discovery import Discovery
from kmigrate.report import Report
from kmigrate.parallel import CACHE_DIR_NAME, Job, process_files
from kmigrate.runner import FileResult, Vetter
from kmigrate.sources import atomic_write
from kmigrate.versions import Target, TargetError, parse_target

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Find Keras 2 idioms whose behaviour changes in Keras 3, fix them, and prove the fixes.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

FORMATS = ("full", "concise", "json")
EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """Bad flags or configuration: one line on stderr, exit 2."""


def _err(message: str) -> None:
    typer.echo(message, err=True)


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
    typer.Option("--format", "--output-format", "-f", help="full | concise | json", show_default=False),
]
TargetOpt = Annotated[
    Optional[str],
    typer.Option("--target-keras", help="Keras 3 version to migrate to, e.g. 3.4 (default: every rule)."),
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
UnsafeOpt = Annotated[
    bool, typer.Option("--unsafe-fixes", help="Also offer and apply fixes marked unsafe.")
]
JobsOpt = Annotated[
    Optional[int], typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all cores).")
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Do not read or write the result cache (.kmigrate_cache/).")
]
ExitZeroOpt = Annotated[
    bool, typer.Option("--exit-zero", help="Exit 0 even when findings remain (errors still exit 2).")
]


@dataclass(frozen=True)
class Run:
    settings: Settings
    rules: tuple[Rule, ...]
    enabled: dict[str, Rule]
    files: list[Path]
    discovery_errors: list[FileError]


def _prepare(
    paths: Optional[list[Path]],
    output_format: Optional[str],
    target_keras: Optional[str],
    select: Optional[list[str]],
    extend_select: Optional[list[str]],
    ignore: Optional[list[str]],
    unsafe_fixes: bool,
) -> Run:
    try:
        all_rules = load_rules()
    except RuleError as exc:
        raise UsageError(f"error: invalid rule file: {exc}") from None
    fmt = output_format or "full"
    if fmt not in FORMATS:
        raise UsageError(f"error: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    try:
        target = parse_target(target_keras) if target_keras is not None else Target()
    except TargetError as exc:
        raise UsageError(f"error: {exc}") from None
    settings = Settings(
        select=_split(select),
        extend_select=_split(extend_select),
        ignore=_split(ignore),
        target=target,
        unsafe_fixes=unsafe_fixes,
        output_format=fmt,
    )
    try:
        validate_selectors(all_rules, settings.select, "--select")
        validate_selectors(all_rules, settings.extend_select, "--extend-select")
        validate_selectors(all_rules, settings.ignore, "--ignore")
    except ConfigError as exc:
        raise UsageError(f"error: {exc}") from None
    enabled = {r.code: r for r in select_rules(all_rules, settings)}
    discovery = Discovery()
    files = list(discovery.walk(paths or [Path(".")]))
    errors = [FileError(p, m) for p, m in discovery.errors]
    return Run(settings, all_rules, enabled, files, errors)


def _process(
    run: Run, *, fix: bool, jobs: Optional[int] = None, no_cache: bool = False, vet: Optional[Vetter] = None
) -> list[FileResult]:
    job = Job(
        rules=run.enabled,
        target=run.settings.target,
        fix=fix,
        unsafe=run.settings.unsafe_fixes,
        cache_dir=None if no_cache else Path.cwd() / CACHE_DIR_NAME,
    )
    return process_files(run.files, job, jobs=jobs, vet=vet)


def _report(
    run: Run,
    results: list[FileResult],
    command: str,
    diags: list[Diagnostic],
    fixed: bool = False,
    **extra: int,
) -> Report:
    errors = [*run.discovery_errors, *(r.error for r in results if r.error is not None)]
    # After --apply the remaining findings point into the rewritten text.
    sources = {
        r.display: (r.fixed_text if fixed and r.fixed_text is not None else r.source.text)
        for r in results
        if r.source is not None
    }
    return Report(
        diagnostics=sorted(diags, key=Diagnostic.sort_key),
        errors=errors,
        files_checked=sum(1 for r in results if r.error is None),
        rules={r.code: r for r in run.rules},
        sources=sources,
        unsafe_fixes=run.settings.unsafe_fixes,
        command=command,
        **extra,
    )


def _render(report: Report, fmt: str) -> str:
    from importlib import import_module

    module = import_module(f"kmigrate.report.{'json_' if fmt == 'json' else fmt}")
    return module.render(report)


def _emit_errors(report: Report, fmt: str) -> None:
    if fmt == "json":
        return  # JSON carries them in "errors"; stderr stays quiet for machine consumers
    for e in report.errors:
        _err(e.render())


def _exit_code(report: Report, exit_zero: bool, findings: bool) -> int:
    if report.errors:
        return EXIT_ERROR
    if findings and not exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _guard(fn):  # type: ignore[no-untyped-def]
    """Turn usage errors into one line on stderr and exit 2, never a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except UsageError as exc:
            _err(str(exc))
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


@app.command()
@_guard
def check(
    paths: PathsArg = None,
    output_format: FormatOpt = None,
    target_keras: TargetOpt = None,
    select: SelectOpt = None,
    extend_select: ExtendSelectOpt = None,
    ignore: IgnoreOpt = None,
    unsafe_fixes: UnsafeOpt = False,
    exit_zero: ExitZeroOpt = False,
    jobs: JobsOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Report Keras 2 idioms whose behaviour changes in Keras 3."""
    run = _prepare(paths, output_format, target_keras, select, extend_select, ignore, unsafe_fixes)
    results = _process(run, fix=False, jobs=jobs, no_cache=no_cache)
    diags = [d for r in results for d in r.diagnostics]
    report = _report(run, results, "check", diags)
    fmt = run.settings.output_format
    sys.stdout.write(_render(report, fmt))
    _emit_errors(report, fmt)
    raise typer.Exit(_exit_code(report, exit_zero, bool(diags)))


def unified_diff(result: FileResult) -> str:
    assert result.source is not None and result.fixed_text is not None
    source = result.source
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


@app.command()
@_guard
def fix(
    paths: PathsArg = None,
    apply: Annotated[bool, typer.Option("--apply", help="Write the fixes (default: print a diff).")] = False,
    output_format: FormatOpt = None,
    target_keras: TargetOpt = None,
    select: SelectOpt = None,
    extend_select: ExtendSelectOpt = None,
    ignore: IgnoreOpt = None,
    unsafe_fixes: UnsafeOpt = False,
    exit_zero: ExitZeroOpt = False,
    jobs: JobsOpt = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Prove each fix by running it under Keras 2 and Keras 3; hold back fixes that differ.")
    ] = False,
) -> None:
    """Print the rewrite as a unified diff; with --apply, write it."""
    run = _prepare(paths, output_format, target_keras, select, extend_select, ignore, unsafe_fixes)
    if verify:
        results = _process_verified(run)
    else:
        results = _process(run, fix=True, jobs=jobs)
    fmt = run.settings.output_format
    changed = [r for r in results if r.changed]
    write_errors: list[FileError] = []
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
        report = Report(**{**report.__dict__, "errors": [*report.errors, *write_errors]})
    for r in results:
        for w in r.warnings:
            _err(f"warning: {w}")
    if verify and fmt != "json":
        from kmigrate.verify.report import fix_verdicts

        sys.stderr.write(fix_verdicts(sorted(initial, key=Diagnostic.sort_key), fmt))
    if fmt == "json":
        payload = json.loads(_render(report, "json"))
        payload["files"] = [
            {"path": r.display, "changed": True, "diff": "" if apply else unified_diff(r)} for r in changed
        ]
        payload["applied"] = apply
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    elif apply:
        if remaining:
            sys.stdout.write(_render(report, fmt))
        _err(
            f"Fixed {applied} finding{'s' if applied != 1 else ''} in {len(changed)} "
            f"file{'s' if len(changed) != 1 else ''}; {len(remaining)} remaining."
        )
    else:
        for r in changed:
            sys.stdout.write(unified_diff(r))
        left = len(remaining)
        _err(
            f"Would fix {applied} finding{'s' if applied != 1 else ''} in {len(changed)} "
            f"file{'s' if len(changed) != 1 else ''} (run with --apply to write); "
            f"{left} would remain."
        )
    _emit_errors(report, fmt)
    findings = bool(remaining) or (bool(changed) and not apply)
    raise typer.Exit(_exit_code(report, exit_zero, findings))


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
        Optional[str], typer.Option("--format", "--output-format", "-f", help="table | json")
    ] = None,
) -> None:
    """List every rule."""
    try:
        rules = load_rules()
    except RuleError as exc:
        raise UsageError(f"error: invalid rule file: {exc}") from None
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


def explain_text(rule: Rule) -> str:
    lines = [
        f"# {rule.code} {rule.name}",
        "",
        rule.title,
        "",
        f"What breaks: {rule.breaks}. Applies to Keras {rule.keras}. Catalogue entries: "
        + ", ".join(str(c) for c in rule.catalogue)
        + ".",
        "",
        f"Keras 2: {rule.keras2}",
        f"Keras 3: {rule.keras3}",
    ]
    if rule.description.strip():
        lines += ["", rule.description.strip()]
    lines += ["", "## Example", "", "```python", rule.example.before.strip("\n"), "```"]
    if rule.example.after is not None:
        lines += ["", "becomes", "", "```python", rule.example.after.strip("\n"), "```"]
    fix_line = {"safe": "safe", "unsafe": "unsafe (applied only with --unsafe-fixes)", "none": "none"}[rule.fix]
    lines += ["", f"## Fix safety: {fix_line}"]
    if rule.fix_title:
        lines += ["", rule.fix_title + "."]
    if rule.fix_safety_note.strip():
        lines += ["", rule.fix_safety_note.strip()]
    if not rule.default_enabled:
        lines += ["", f"Off by default: enable with `--select {rule.code}`."]
    if rule.references:
        lines += ["", "## References", ""] + [f"- {ref}" for ref in rule.references]
    return "\n".join(lines) + "\n"


@app.command()
@_guard
def explain(code: Annotated[str, typer.Argument(help="A rule code (KM101) or name.")]) -> None:
    """Show a rule's documentation."""
    try:
        rules = load_rules()
    except RuleError as exc:
        raise UsageError(f"error: invalid rule file: {exc}") from None
    for r in rules:
        if r.code == code.upper() or r.name == code:
            sys.stdout.write(explain_text(r))
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
