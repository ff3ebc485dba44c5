"""SourceFile: the text kmigrate analyses, and how a rewritten text goes back to disk."""

from __future__ import annotations

import codecs
import io
import os
import tokenize
from dataclasses import dataclass
from pathlib import Path

from kmigrate.diagnostics import FileError, Span


@dataclass(frozen=True)
class SourceFile:
    path: Path
    display: str
    text: str
    encoding: str
    bom: bool
    raw: bytes

    @property
    def is_notebook(self) -> bool:
        return False

    def map_span(self, span: Span) -> tuple[int | None, Span]:
        """Position in the analysed text -> (cell, position in that cell); cell None for .py."""
        return None, span

    def reframe(self, text: str) -> SourceFile:
        """This file as if its text were ``text`` (notebooks re-derive their cell layout)."""
        return self

    def render(self, text: str) -> bytes:
        """The bytes to write for a rewritten text, in the file's own encoding."""
        data = text.encode(self.encoding)
        if self.bom:
            data = codecs.BOM_UTF8 + data
        return data


def decode_python(raw: bytes) -> tuple[str, str, bool]:
    """(text, encoding, has_bom), honouring PEP 263 and a UTF-8 BOM; newlines untouched."""
    bom = raw.startswith(codecs.BOM_UTF8)
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    body = raw[len(codecs.BOM_UTF8) :] if bom else raw
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    return body.decode(encoding), encoding, bom


def read_source(path: Path, display: str | None = None) -> SourceFile | FileError:
    display = display or str(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        return FileError(display, "is a directory")
    except PermissionError:
        return FileError(display, "permission denied")
    except FileNotFoundError:
        if path.is_symlink():
            return FileError(display, "broken symbolic link")
        return FileError(display, "no such file")
    except OSError as exc:
        return FileError(display, f"cannot read: {exc.strerror or exc}")
    if path.suffix == ".ipynb":
        from kmigrate.notebooks import read_notebook

        return read_notebook(path, display, raw)
    if b"\x00" in raw:
        return FileError(display, "binary file (contains NUL bytes), not Python source")
    try:
        text, encoding, bom = decode_python(raw)
    except (SyntaxError, LookupError) as exc:
        return FileError(display, f"unknown source encoding: {exc}")
    except UnicodeDecodeError as exc:
        return FileError(display, f"cannot decode as {exc.encoding}: invalid byte at offset {exc.start}")
    return SourceFile(path, display, text, encoding, bom, raw)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half."""
    import tempfile

    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".kmigrate-tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
