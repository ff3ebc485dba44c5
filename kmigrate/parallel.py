"""Checking many files: a process pool, and a content-hash cache of results.

Each file is processed in isolation: a crash in one file is reported with its path and the run
goes on. The cache key covers the file's bytes, the rule set (rule files and kmigrate's own
code) and the settings that change results, so a stale entry can never be served.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kmigrate import __version__
from kmigrate.catalogue import Rule
from kmigrate.diagnostics import Diagnostic, FileError
from kmigrate.results import FileResult, Vetter
from kmigrate.sources import read_source
from kmigrate.versions import Target

CACHE_DIR_NAME = ".kmigrate_cache"
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


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """Hash of kmigrate's own sources and shipped rules: any change invalidates the cache."""
    from kmigrate.catalogue import rules_dir

    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    for path in sorted(rules_dir().glob("*.toml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _settings_fingerprint(job: Job, rules: dict[str, Rule]) -> str:
    parts = [
        ",".join(sorted(rules)),
        "unused" if job.report_unused else "",
        str(job.target.version),
        "fix" if job.fix else "check",
        "unsafe" if job.unsafe else "safe",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _cache_path(job: Job, rules: dict[str, Rule], raw: bytes, display: str) -> Path | None:
    if job.cache_dir is None:
        return None
    key = hashlib.sha256()
    key.update(_code_fingerprint().encode())
    key.update(_settings_fingerprint(job, rules).encode())
    key.update(display.encode())  # diagnostics carry the display path
    key.update(raw)
    h = key.hexdigest()
    return job.cache_dir / __version__ / h[:2] / h


def _load(path: Path) -> tuple[tuple[Diagnostic, ...], FileError | None] | None:
    try:
        with path.open("rb") as handle:
            value = pickle.load(handle)
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None
    if not (isinstance(value, tuple) and len(value) == 2):
        return None
    return value


def _store(path: Path, value: tuple[tuple[Diagnostic, ...], FileError | None]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only tree simply runs without a cache


def process_one(path: Path, job: Job, vet: Vetter | None = None) -> FileResult:
    display = str(path)
    try:
        source = read_source(path, display)
        if isinstance(source, FileError):
            return FileResult(display, error=source)
        rules = job.rules_for(path)
        cacheable = not job.fix and vet is None
        cache_file = _cache_path(job, rules, source.raw, display) if cacheable else None
        if cache_file is not None:
            hit = _load(cache_file)
            if hit is not None:
                diagnostics, error = hit
                return FileResult(display, diagnostics, error=error, source=source)
        from kmigrate.runner import process_source  # libcst: only when something is parsed

        result = process_source(
            source,
            rules,
            job.target,
            fix=job.fix,
            unsafe=job.unsafe,
            vet=vet,
            report_unused=job.report_unused,
            use_screen=job.use_screen,
        )
        if cache_file is not None:
            _store(cache_file, (result.diagnostics, result.error))
        return result
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


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cached_result(path: Path, job: Job) -> FileResult | None:
    """The cached result for ``path``, if there is one (reading a file costs far less than a pool)."""
    if job.fix or job.cache_dir is None:
        return None
    display = str(path)
    try:
        source = read_source(path, display)
        if isinstance(source, FileError):
            return None
        cache_file = _cache_path(job, job.rules_for(path), source.raw, display)
        hit = _load(cache_file) if cache_file is not None else None
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
    if vet is None and not job.fix and job.cache_dir is not None:
        hits = [cached_result(p, job) for p in paths]
        missing = [p for p, h in zip(paths, hits) if h is None]
        if progress is not None:
            progress(len(paths) - len(missing))
        fresh = iter(_process_files(missing, job, jobs=jobs, vet=None, progress=progress))
        return [h if h is not None else next(fresh) for h in hits]
    return _process_files(paths, job, jobs=jobs, vet=vet, progress=progress)


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
    results: list[FileResult | None] = [None] * len(paths)
    chunk = max(1, min(32, len(paths) // (jobs * 8) or 1))
    try:
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init, initargs=(job,)) as pool:
            for i, result in enumerate(pool.map(_work, paths, chunksize=chunk)):
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
