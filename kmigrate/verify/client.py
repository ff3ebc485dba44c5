"""The parent's side of the worker: start it, send probes, enforce timeouts, restart on failure.

The worker runs in its own process group inside a temporary working directory; its stderr goes
to a log file there (never to a pipe nobody reads). A probe that hangs or kills the worker costs
one restart, never the run.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kmigrate.diagnostics import Verdict
from kmigrate.verify.spec import ProbeSpec

START_TIMEOUT = 180.0
#: a fresh worker after this many probes keeps TensorFlow's memory use flat on long runs
PROBES_PER_WORKER = 250
PROBE_MARKER = "--- kmigrate probe ---"
# TensorFlow's C++ start-up chatter (absl log lines) is not what went wrong.
_NOISE = re.compile(r"^[IWE]\d{4} |^WARNING: All log messages|^To enable the following|^\s*$")


@dataclass(frozen=True)
class ProbeResult:
    verdict: Verdict
    kind: str = ""
    shape: tuple[int | None, ...] | None = None
    seconds: float = 0.0
    cpu_seconds: float | None = None  # the worker's CPU time on it (robust to a busy machine)


class WorkerError(RuntimeError):
    pass


def _verdict(data: dict[str, object]) -> Verdict:
    def num(key: str) -> float | None:
        value = data.get(key)
        return float(value) if isinstance(value, (int, float, str)) and value is not None else None

    return Verdict(
        kind=data["verdict"],  # type: ignore[arg-type]
        detail=str(data.get("detail", "")),
        max_abs_diff=num("max_abs_diff"),
        max_rel_diff=num("max_rel_diff"),
        tolerance=num("tolerance"),
        where=data.get("where") if isinstance(data.get("where"), str) else None,  # type: ignore[arg-type]
    )


class Worker:
    """One verification worker process, restarted as needed. Use as a context manager."""

    def __init__(self, timeout: float = 60.0, python: str | None = None) -> None:
        self.timeout = timeout
        self.python = python or sys.executable
        self.startup_seconds: float | None = None
        self.startup_cpu_seconds: float | None = None
        self.versions: dict[str, str] = {}
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None
        self._buffer = b""
        self._next_id = 0
        self._start_error: str | None = None
        self._eof = False

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ lifecycle
    def _spawn(self) -> None:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="kmigrate-verify-")
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        env["PYTHONUNBUFFERED"] = "1"
        log = open(Path(self._dir) / "worker.log", "ab")  # noqa: SIM115 - owned by the child
        began = time.perf_counter()
        try:
            self._proc = subprocess.Popen(
                [self.python, "-m", "kmigrate.verify.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self._dir,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise WorkerError(f"cannot start the verification worker ({self.python}): {exc}") from None
        finally:
            log.close()
        self._buffer = b""
        hello = self._read_line(START_TIMEOUT)
        if hello is None:
            tail = self.log_tail()
            self._kill()
            raise WorkerError(f"the verification worker did not start{': ' + tail if tail else ''}")
        message = json.loads(hello)
        if not message.get("ready"):
            self._kill()
            raise WorkerError(f"the verification worker cannot import Keras: {message.get('error')}")
        self.versions = message.get("versions", {})
        if self.startup_seconds is None:
            self.startup_seconds = time.perf_counter() - began
            cpu = message.get("cpu_seconds")
            self.startup_cpu_seconds = float(cpu) if isinstance(cpu, (int, float)) else None

    def start(self) -> None:
        """Start the worker now (else it starts with the first probe)."""
        if self._proc is None or self._proc.poll() is not None:
            self._spawn()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None and proc.stdin is not None:
            try:
                proc.stdin.close()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def log_tail(self, lines: int = 3) -> str:
        if self._dir is None:
            return ""
        try:
            text = (Path(self._dir) / "worker.log").read_text(errors="replace")
        except OSError:
            return ""
        text = text.rpartition(PROBE_MARKER)[2]
        kept = [ln for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln)]
        return " | ".join(kept[-lines:])

    # ------------------------------------------------------------------ protocol
    def _read_line(self, timeout: float) -> bytes | None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        self._eof = False
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return None
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    self._eof = True
                    return None
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def probe(self, spec: ProbeSpec, timeout: float | None = None) -> ProbeResult:
        """Run one probe. Never raises for anything the probed code does."""
        if self._start_error is not None:
            return ProbeResult(Verdict("unverifiable", self._start_error))
        try:
            self.start()
        except WorkerError as exc:
            self._start_error = str(exc)
            return ProbeResult(Verdict("unverifiable", self._start_error))
        assert self._proc is not None and self._proc.stdin is not None
        self._next_id += 1
        if self._next_id % PROBES_PER_WORKER == 0:
            self._kill()
            self.start()
            assert self._proc is not None and self._proc.stdin is not None
        request = json.dumps({"id": self._next_id, "probe": spec.to_json()}) + "\n"
        began = time.perf_counter()
        limit = self.timeout if timeout is None else timeout
        try:
            self._proc.stdin.write(request.encode("utf-8"))
            self._proc.stdin.flush()
            line = self._read_line(limit)
        except (BrokenPipeError, OSError):
            line = None
        elapsed = time.perf_counter() - began
        if line is None:
            return ProbeResult(Verdict("unverifiable", self._failure(limit)), seconds=elapsed)
        result = json.loads(line)["result"]
        shape = result.get("shape")
        return ProbeResult(
            _verdict(result),
            kind=str(result.get("kind") or ""),
            shape=tuple(shape) if isinstance(shape, list) else None,
            seconds=elapsed,
            cpu_seconds=float(result["cpu_seconds"]) if isinstance(result.get("cpu_seconds"), (int, float)) else None,
        )

    def _failure(self, limit: float) -> str:
        assert self._proc is not None
        code = self._proc.poll()
        if code is None and self._eof:
            try:
                code = self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
        tail = self.log_tail()
        self._kill()
        self.restarts += 1
        if code is None and self._eof:
            return "the worker closed its output unexpectedly; the worker was restarted"
        if code is None:
            return f"the probe did not finish within {limit:g} s (timeout); the worker was restarted"
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return f"the probed code crashed the worker ({how}){': ' + tail if tail else ''}; the worker was restarted"
