"""Install an older Keras 3 release next to the current one, without touching site-packages.

    python benchmarks/keras_side_by_side.py 3.4.1 [--cache-dir DIR] [--check]

``ensure_keras("3.4.1", cache_dir)`` pip-installs ``keras==3.4.1`` (no dependencies) into
``cache_dir/keras-3.4.1`` once and returns that directory. A process that puts the directory
first on ``PYTHONPATH`` (see ``keras_env``) imports that Keras, while TensorFlow and Keras's
own dependencies (numpy, h5py, optree, ml-dtypes, namex, rich, absl-py, packaging) come from
the running environment. ``tf.keras`` follows, since TensorFlow imports ``keras`` lazily.

This module imports neither TensorFlow nor Keras. Concurrent callers are safe: installs are
serialised by a lock file, and each install goes to a temporary directory that is renamed
into place only when complete, so a half-installed directory is never returned.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE_DIR = ROOT / ".kmigrate_cache"
_COMPLETE = ".complete"
_VERSION = re.compile(r"^\d+\.\d+\.\d+([a-z]+\d*)?$")


class KerasInstallError(RuntimeError):
    """The requested Keras could not be installed or would not import."""


def install_dir(version: str, cache_dir: Path | str = DEFAULT_CACHE_DIR) -> Path:
    return Path(cache_dir) / f"keras-{version}"


def is_installed(version: str, cache_dir: Path | str = DEFAULT_CACHE_DIR) -> bool:
    target = install_dir(version, cache_dir)
    return (target / _COMPLETE).is_file() and (target / "keras" / "__init__.py").is_file()


def ensure_keras(version: str, cache_dir: Path | str = DEFAULT_CACHE_DIR) -> Path:
    """Return a directory holding ``keras==version``; install it there first if needed."""
    if not _VERSION.match(version):
        raise ValueError(f"expected an exact Keras version such as '3.4.1', got {version!r}")
    cache = Path(cache_dir)
    target = install_dir(version, cache)
    if is_installed(version, cache):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / f".keras-{version}.lock"):
        if is_installed(version, cache):
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".keras-{version}-", dir=cache))
        staging.chmod(0o755)
        try:
            _pip_install(version, staging)
            (staging / _COMPLETE).write_text(f"keras=={version}\n", encoding="utf-8")
            if target.exists():  # left behind by an interrupted run without a lock
                shutil.rmtree(target)
            try:
                os.rename(staging, target)
            except OSError:
                if not is_installed(version, cache):
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def missing_requirements(path: Path) -> list[str]:
    """The installed Keras's requirements that the running environment does not provide."""
    missing = []
    for info in path.glob("keras-*.dist-info"):
        for requirement in metadata.PathDistribution(info).requires or []:
            if "extra ==" in requirement:
                continue
            name = re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]
            try:
                metadata.distribution(name)
            except metadata.PackageNotFoundError:
                missing.append(name)
    return missing


def keras_env(path: Path | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a child process whose ``import keras`` finds the Keras at ``path``.

    ``path=None`` means the Keras installed in the running environment.
    """
    env = dict(os.environ if base is None else base)
    env["TF_USE_LEGACY_KERAS"] = "0"
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(path), env.get("PYTHONPATH", "")) if p
        )
    return env


def probe(path: Path | None, timeout: float = 300) -> tuple[str, str, str]:
    """Import TensorFlow and Keras from ``path`` in a child process.

    Returns ``(keras version, keras file, tensorflow version)`` as seen by ``tf.keras``.
    """
    code = (
        "import importlib, tensorflow as tf\n"
        "k = importlib.import_module(tf.keras.__name__.split('.')[0])\n"
        "print(k.__version__, k.__file__, tf.__version__, sep='\\n')\n"
    )
    env = keras_env(path)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise KerasInstallError(f"importing keras from {path} failed:\n{proc.stderr[-3000:]}")
    version, file, tf_version = proc.stdout.strip().splitlines()[-3:]
    return version, file, tf_version


def _pip_install(version: str, target: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-input", "--no-deps", "--no-compile", "--target", str(target), f"keras=={version}",
    ]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise KerasInstallError(
            f"`{' '.join(command)}` failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    if not (target / "keras" / "__init__.py").is_file():
        raise KerasInstallError(f"pip reported success but {target} holds no keras package")
    missing = missing_requirements(target)
    if missing:
        raise KerasInstallError(
            f"keras=={version} needs {', '.join(missing)}, which the running environment "
            f"lacks; install them (`pip install {' '.join(missing)}`) and retry"
        )


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): the atomic rename still keeps installs whole
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", help="exact Keras version, e.g. 3.4.1")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument(
        "--check", action="store_true", help="also import it with TensorFlow in a child process"
    )
    args = parser.parse_args(argv)
    try:
        path = ensure_keras(args.version, args.cache_dir)
        print(path)
        if args.check:
            version, file, tf_version = probe(path)
            print(f"tf.keras -> keras {version} ({file}), tensorflow {tf_version}")
            if version != args.version:
                print(f"error: expected keras {args.version}", file=sys.stderr)
                return 1
    except KerasInstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
