"""What the CLI calls: verify every fix of a run (``fix --verify``) or probe unchanged code
(``kmigrate verify PATH``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kmigrate.catalogue import Rule
from kmigrate.diagnostics import Diagnostic, FileError, Verdict
from kmigrate.sources import SourceFile, read_source
from kmigrate.verify import specs
from kmigrate.verify.client import ProbeResult, Worker
from kmigrate.verify.locate import Analysed
from kmigrate.verify.spec import Located, ProbeOutcome, ProbeSpec, VerifySettings

Progress = Callable[[str], None]


class Prober:
    """Runs probe specs on one shared worker and remembers each answer (a fix reported by
    several rules, or seen again in a later fix pass, is probed once)."""

    #: A worker to share instead of starting one per run (a long-lived host, or a test session).
    shared_worker: Worker | None = None

    def __init__(self, settings: VerifySettings, worker: Worker | None = None) -> None:
        self.settings = settings
        worker = worker or Prober.shared_worker
        self.worker = worker or Worker(timeout=settings.timeout, python=settings.python)
        self._owns = worker is None
        self._cache: dict[str, ProbeResult] = {}

    def run(self, spec: ProbeSpec) -> ProbeResult:
        key = json.dumps(spec.to_json(), sort_keys=True)
        if key not in self._cache:
            self._cache[key] = self.worker.probe(spec, timeout=self.settings.timeout)
        return self._cache[key]

    def close(self) -> None:
        if self._owns:
            self.worker.close()

    def __enter__(self) -> Prober:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _intended(rule: Rule | None) -> bool:
    return rule is not None and bool(rule.intended_difference)


class FixVerifier:
    """The ``vet`` hook of :func:`kmigrate.runner.process_source`: attach a verdict to each fix.

    A fix whose rewrite ``differs`` is held back. With ``--unsafe-fixes`` it is applied only when
    its rule documents the difference as intended (``intended_difference`` in the rule's TOML);
    otherwise its edits are withdrawn so that no flag can apply it.
    """

    def __init__(self, prober: Prober, rules: dict[str, Rule], unsafe: bool) -> None:
        self.prober = prober
        self.rules = rules
        self.unsafe = unsafe

    def verdict(self, text: str, diag: Diagnostic, companions: list[Diagnostic]) -> Verdict:
        located = specs.for_fix(text, diag, self.prober.settings, companions)
        if located.spec is None:
            return Verdict("unverifiable", located.reason)
        result = self.prober.run(located.spec)
        if result.shape is None or result.kind not in ("layer", "function"):
            return result.verdict
        note = f"; input shape {tuple(result.shape)} from {located.spec.shape_source}"
        return dataclasses.replace(result.verdict, detail=result.verdict.detail + note)

    def __call__(self, text: str, diags: list[Diagnostic]) -> list[Diagnostic]:
        out = []
        companions = [d for d in diags if d.fix is not None and (d.fix.safety == "safe" or self.unsafe)]
        for d in diags:
            if d.fix is None or not d.fix.edits or d.fix.verified is not None:
                out.append(d)
                continue
            verdict = self.verdict(text, d, companions)
            fix = d.fix.with_verdict(verdict)
            if verdict.kind == "differs" and self.unsafe and not _intended(self.rules.get(d.code)):
                fix = dataclasses.replace(fix, edits=())
            out.append(dataclasses.replace(d, fix=fix))
        return out


def make_vetter(prober: Prober, rules: dict[str, Rule], unsafe: bool) -> FixVerifier:
    return FixVerifier(prober, rules, unsafe)


@dataclass(frozen=True)
class VerifyReport:
    outcomes: tuple[ProbeOutcome, ...]
    errors: tuple[FileError, ...]
    files: int
    startup_seconds: float | None
    versions: tuple[tuple[str, str], ...] = ()

    @property
    def differs(self) -> int:
        return sum(1 for o in self.outcomes if o.verdict.kind == "differs")

    def count(self, kind: str) -> int:
        return sum(1 for o in self.outcomes if o.verdict.kind == kind)


def _outcome(source: SourceFile, located: Located, result: ProbeResult, shape_source: str) -> ProbeOutcome:
    cell, span = source.map_span(located.span)
    return ProbeOutcome(source.display, span, located.label, result.verdict, result.kind,
                        result.shape, shape_source if result.kind in ("layer", "function") else "",
                        result.seconds, cell)


def locate_source(source: SourceFile, settings: VerifySettings) -> list[Located]:
    """Every probeable construct of one file, unchanged: the same code under both versions."""
    a = Analysed(source.text)
    seen: set[str] = set()
    out = []
    for c in a.all_constructs():
        located = specs.for_construct(a, c, source.display, settings)
        assert located.spec is not None
        key = json.dumps(located.spec.to_json(), sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        out.append(located)
    return out


def verify_paths(
    files: Iterable[Path],
    settings: VerifySettings,
    prober: Prober | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Probe every custom layer and Keras construction in ``files`` under both versions."""
    outcomes: list[ProbeOutcome] = []
    errors: list[FileError] = []
    count = 0
    own = prober is None
    prober = prober or Prober(settings)
    try:
        for path in files:
            try:
                source = read_source(path)
            except Exception as exc:  # noqa: BLE001 - one file's failure must not stop the run
                source = FileError(str(path), f"internal error: {type(exc).__name__}: {exc}")
            if isinstance(source, FileError):
                errors.append(source)
                continue
            try:
                found = locate_source(source, settings)
            except Exception as exc:  # noqa: BLE001 - a file that does not parse is an error, not a crash
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                errors.append(FileError(source.display, f"cannot parse: {first}"))
                continue
            count += 1
            for located in found:
                assert located.spec is not None
                if progress is not None:
                    progress(f"{source.display}:{located.span.line}: {located.label}")
                result = prober.run(located.spec)
                outcomes.append(_outcome(source, located, result, located.spec.shape_source))
        worker = prober.worker
        return VerifyReport(tuple(outcomes), tuple(errors), count, worker.startup_seconds,
                            tuple(sorted(worker.versions.items())))
    finally:
        if own:
            prober.close()
