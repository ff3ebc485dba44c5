"""Checking many files: a process pool, and the result cache (``kmigrate.cache``).

Each file is processed in isolation: a crash in one file is reported with its path and the run
goes on. Cache hits are served in this process; only what misses goes to the pool, and the
results come back here to be stored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kmigrate.cache import ResultIndex
from kmigrate.catalogue import Rule
from kmigrate.diagnostics import FileError
from kmigrate.results import FileResult, Vetter
from kmigrate.sources import read_source
from kmigrate.versions import Target


#: below this many files a pool costs more than it saves
POOL_THRESHOLD = 16


@dataclass(frozen=True)
class Job:
    rules: dict[str, Rule]
    target: Target
    fix: bool
    unsafe: bool
    cache_dir: Path | None
    report_unused: bool = False  # --report-unused-suppressions
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()  # glob -> selectors
    base: Path | None = None  # per-file-ignores globs are relative to it
    use_screen: bool = True  # False: every rule visits every file (for tests of the screen)

    def rules_for(self, path: Path) -> dict[str, Rule]:
        if not self.per_file_ignores:
            return self.rules
        from kmigrate.config import matching_ignores, without_ignored

        return without_ignored(self.rules, matching_ignores(self.per_file_ignores, self.base or Path.cwd(), path))


def process_one(path: Path, job: Job, vet: Vetter | None = None) -> FileResult:
    display = str(path)
    try:
        source = read_source(path, display)
        if isinstance(source, FileError):
            return FileResult(display, error=source)
        from kmigrate.runner import process_source  # libcst: only when something is parsed

        return process_source(
            source,
            job.rules_for(path),
            job.target,
            fix=job.fix,
            unsafe=job.unsafe,
            vet=vet,
            report_unused=job.report_unused,
            use_screen=job.use_screen,
        )
    except RecursionError:
        return FileResult(display, error=FileError(display, "internal error: source too deeply nested"))
    except Exception as exc:  # noqa: BLE001 - one file's crash must not stop the run
        return FileResult(display, error=FileError(display, f"internal error: {type(exc).__name__}: {exc}"))


_JOB: Job | None = None


def _init(job: Job) -> None:
    global _JOB
    _JOB = job


def _work(path: Path) -> FileResult:
    assert _JOB is not None
    return process_one(path, _JOB)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _index(job: Job) -> ResultIndex | None:
    if job.fix or job.cache_dir is None:
        return None
    return ResultIndex(job.cache_dir, job.rules, job.target, report_unused=job.report_unused, unsafe=job.unsafe)


def _cached(index: ResultIndex, path: Path, job: Job) -> FileResult | None:
    """The cached result for ``path``, if there is one (reading a file costs far less than a pool)."""
    display = str(path)
    if display not in index:
        return None  # nothing stored: not worth reading the file here (a cold run's case)
    try:
        source = read_source(path, display)
        if isinstance(source, FileError):
            return None  # the full path reports it
        hit = index.get(display, index.key(job.rules_for(path), display, source.raw))
    except Exception:  # noqa: BLE001 - the full path reports whatever went wrong
        return None
    if hit is None:
        return None
    diagnostics, error = hit
    return FileResult(display, diagnostics, error=error, source=source)


def process_files(
    paths: Sequence[Path],
    job: Job,
    *,
    jobs: int | None = None,
    vet: Vetter | None = None,
    progress=None,  # callable(n_done) or None
) -> list[FileResult]:
    """Results for ``paths``, in order. Cache hits are served here; the rest may use a pool."""
    index = _index(job) if vet is None else None
    if index is None:
        return _process_files(paths, job, jobs=jobs, vet=vet, progress=progress)
    hits = [_cached(index, p, job) for p in paths]
    missing = [p for p, h in zip(paths, hits) if h is None]
    if progress is not None:
        progress(len(paths) - len(missing))
    fresh = _process_files(missing, job, jobs=jobs, vet=None, progress=progress)
    for path, result in zip(missing, fresh):
        # Only what the checkers produced (an internal error carries no source) is kept, under
        # the bytes that were checked.
        if result.source is not None:
            key = index.key(job.rules_for(path), result.display, result.source.raw)
            index.put(result.display, key, (result.diagnostics, result.error))
    index.save()
    it = iter(fresh)
    return [h if h is not None else next(it) for h in hits]


def _process_files(
    paths: Sequence[Path],
    job: Job,
    *,
    jobs: int | None,
    vet: Vetter | None,
    progress,
) -> list[FileResult]:
    jobs = jobs or default_jobs()
    if jobs <= 1 or len(paths) < POOL_THRESHOLD or vet is not None:
        out = []
        for p in paths:
            out.append(process_one(p, job, vet))
            if progress is not None:
                progress(1)
        return out
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    results: list[FileResult | None] = [None] * len(paths)
    # Largest files first, in small chunks: the workers then finish together instead of one
    # waiting for another's last big chunk (longest-processing-time-first scheduling).
    order = sorted(range(len(paths)), key=lambda i: _size(paths[i]), reverse=True)
    chunk = max(1, min(4, len(paths) // (jobs * 32)))
    try:
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init, initargs=(job,)) as pool:
            done = pool.map(_work, [paths[i] for i in order], chunksize=chunk)
            for i, result in zip(order, done):
                results[i] = result
                if progress is not None:
                    progress(1)
    except BrokenProcessPool:
        pass  # a worker died (e.g. a stack overflow in the parser): finish the rest one by one
    for i, r in enumerate(results):
        if r is None:
            results[i] = process_one(paths[i], job)
            if progress is not None:
                progress(1)
    return [r for r in results if r is not None]
