"""Jupyter notebooks: code cells as one Python text, and a byte-faithful way back to JSON.

The analysed text is every code cell, in notebook order, joined by a boundary comment line, so
names imported in one cell are known in the later ones (as when the notebook runs top to
bottom). IPython syntax that is not Python (``%magic``, ``!shell``, ``x = !cmd``, ``obj?``,
automagics such as ``pip install x``) is replaced line for line by ``pass`` placeholders, so
positions stay exact and the original lines come back on writing. Cells starting with a
``%%magic`` are skipped whole, except the magics whose body is Python (``%%time``...).

Cells are numbered as the notebook numbers them: ``cell N`` is the N-th cell counting every
cell, markdown and raw ones included, from 1 (as ruff does and as VS Code's "Cell N of M").

Writing back splices only the ``source`` values of the changed cells into the original JSON
text; indentation, key order, escaping, outputs and the final newline stay byte for byte.
"""

from __future__ import annotations

import codecs
import difflib
import json
import re
from dataclasses import dataclass, field, replace
from json.decoder import scanstring
from pathlib import Path

from kmigrate.diagnostics import FileError, Span
from kmigrate.sources import SourceFile

BOUNDARY = "#%% kmigrate-cell-boundary"
_PLACEHOLDER = re.compile(r"^([ \t]*)pass  # kmigrate-magic (\d+)$")
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()

# Cell magics whose body is Python: analyse the body, hide only the magic line.
PYTHON_CELL_MAGICS = frozenset(
    {"time", "timeit", "capture", "prun", "debug", "python", "python3", "pypy", "memit", "px"}
)
# IPython automagics: a line ``pip install x`` runs ``%pip install x``.
AUTOMAGICS = frozenset(
    """alias autoawait autocall automagic bookmark cat cd clear colors conda config cp debug dhist
    dirs doctest_mode ed edit env gui hist history killbgscripts ldir less lf lk ll load load_ext
    loadpy logoff logon logstart logstate logstop ls lsmagic lx macro magic mamba man matplotlib
    micromamba mkdir more mv notebook page pastebin pdb pdef pdoc pfile pinfo pinfo2 pip popd
    pprint precision prun psearch psource pushd pwd pycat pylab qtconsole quickref recall rehashx
    reload_ext rep rerun reset reset_selective rm rmdir run save sc set_env store sx system tb
    time timeit unalias unload_ext uv who who_ls whos xdel xmode""".split()
)
_AUTOMAGIC = re.compile(r"^[ \t]*([A-Za-z_]\w*)[ \t]+\S")
_HELP = re.compile(r"^[ \t]*[A-Za-z_][\w.]*[ \t]*\?{1,2}[ \t]*$")
_SHELL_ASSIGN = re.compile(r"^[ \t]*[A-Za-z_][\w.,\t ]*=[ \t]*[!%]")


class NotebookError(ValueError):
    """The notebook cannot be read, or a rewrite cannot be put back into it."""


@dataclass(frozen=True)
class Cell:
    """A code cell that takes part in the analysed text."""

    index: int  # 1-based, counting every cell of the notebook
    text: str  # the cell's source with placeholders, ending with "\n"
    trailing_newline: bool  # whether the original source ended with "\n"
    is_list: bool  # `source` was a list of strings (else one string)
    value_span: tuple[int, int]  # the `source` value in the decoded JSON document
    magics: tuple[tuple[int, str], ...] = ()  # placeholder id -> original line


@dataclass(frozen=True)
class NotebookSource(SourceFile):
    document: str = ""  # the decoded JSON text
    cells: tuple[Cell, ...] = ()
    starts: tuple[int, ...] = ()  # 1-based line of each cell in ``text``
    ensure_ascii: bool = False
    indent_unit: str = " "
    json_lines: tuple[tuple[int, ...], ...] = field(default=(), compare=False)

    @property
    def is_notebook(self) -> bool:
        return True

    def map_span(self, span: Span) -> tuple[int | None, Span]:
        if not self.cells:
            return None, span
        k = _cell_at(self.starts, span.line)
        start = self.starts[k]
        return self.cells[k].index, Span(
            span.line - start + 1, span.column, max(1, span.end_line - start + 1), span.end_column
        )

    def reframe(self, text: str) -> NotebookSource:
        """The same notebook with a rewritten text: positions map through the new layout."""
        try:
            chunks = _split(text, len(self.cells))
        except NotebookError:
            return self
        starts, line = [], 1
        for chunk in chunks:
            starts.append(line)
            line += chunk.count("\n") + 1
        return replace(self, text=text, starts=tuple(starts))

    def json_line(self, cell: int, line: int) -> int | None:
        """The line of the .ipynb file that holds ``line`` of ``cell`` (for CI annotations)."""
        for c, lines in zip(self.cells, self.json_lines):
            if c.index == cell:
                if not lines:
                    return None
                return lines[min(line, len(lines)) - 1]
        return None

    def cell_sources(self, text: str) -> list[str]:
        """The original-form source of every analysed cell for a rewritten ``text``."""
        chunks = _split(text, len(self.cells))
        out = []
        for cell, chunk in zip(self.cells, chunks):
            body = _restore(chunk, dict(cell.magics), cell.index)
            if not cell.trailing_newline and body.endswith("\n"):
                body = body[:-1]
            out.append(body)
        return out

    def render(self, text: str) -> bytes:
        if text == self.text:
            return self.raw
        new_sources = self.cell_sources(text)
        doc = self.document
        pieces = []
        pos = 0
        for cell, new in zip(self.cells, new_sources):
            old = _original_source(self, cell)
            if new == old:
                continue
            start, end = cell.value_span
            pieces.append(doc[pos:start])
            pieces.append(self._encode_source(cell, new))
            pos = end
        pieces.append(doc[pos:])
        out = "".join(pieces)
        try:
            parsed = json.loads(out)
        except ValueError as exc:  # pragma: no cover - guards the splice itself
            raise NotebookError(f"rewritten notebook is not valid JSON: {exc}") from None
        for cell, new in zip(self.cells, new_sources):
            got = parsed["cells"][cell.index - 1]["source"]
            if ("".join(got) if isinstance(got, list) else got) != new:  # pragma: no cover
                raise NotebookError(f"cell {cell.index}: rewritten source did not round-trip")
        data = out.encode("utf-8")
        return codecs.BOM_UTF8 + data if self.bom else data

    def diff(self, text: str, display: str) -> str:
        """A unified diff per changed cell, headed ``a/nb.ipynb:cell N`` (as ruff shows it)."""
        out: list[str] = []
        for cell, new in zip(self.cells, self.cell_sources(text)):
            old = _original_source(self, cell)
            if old == new:
                continue
            a = old if old.endswith("\n") or not old else old + "\n"
            b = new if new.endswith("\n") or not new else new + "\n"
            out.extend(
                difflib.unified_diff(
                    a.splitlines(keepends=True),
                    b.splitlines(keepends=True),
                    fromfile=f"a/{display}:cell {cell.index}",
                    tofile=f"b/{display}:cell {cell.index}",
                )
            )
        return "".join(out)

    def _encode_source(self, cell: Cell, source: str) -> str:
        doc = self.document
        start, end = cell.value_span
        if not cell.is_list:
            return json.dumps(source, ensure_ascii=self.ensure_ascii)
        lines = _lines(source)
        items = _array_items(doc, start)
        known = {}
        for s, e in items:
            known.setdefault(scanstring(doc, s + 1)[0], doc[s:e])
        encoded = [known.get(line) or json.dumps(line, ensure_ascii=self.ensure_ascii) for line in lines]
        if not encoded:
            return "[]"
        if items:
            opening = doc[start + 1 : items[0][0]]
            between = doc[items[0][1] : items[1][0]] if len(items) > 1 else "," + opening
            closing = doc[items[-1][1] : end - 1]
        else:
            line_start = doc.rfind("\n", 0, start) + 1
            key_indent = re.match(r"[ \t]*", doc[line_start:]).group(0)  # type: ignore[union-attr]
            opening = "\n" + key_indent + self.indent_unit
            between = "," + opening
            closing = "\n" + key_indent
        return "[" + opening + between.join(encoded) + closing + "]"


def _cell_at(starts: tuple[int, ...], line: int) -> int:
    k = 0
    for i, s in enumerate(starts):
        if s <= line:
            k = i
        else:
            break
    return k


def _lines(text: str) -> list[str]:
    """Split on "\\n" only, keeping it (what nbformat stores in a `source` list)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _split(text: str, n: int) -> list[str]:
    parts = text.split("\n" + BOUNDARY + "\n") if n > 1 else [text]
    if n == 0:
        return []
    if len(parts) != n:
        raise NotebookError("a rewrite crossed a cell boundary; notebook left unchanged")
    # Every chunk but the last lost the "\n" that ends its last line to the separator.
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def _restore(chunk: str, magics: dict[int, str], cell: int) -> str:
    if not magics:
        return chunk
    out = []
    seen = set()
    for line in _lines(chunk):
        body = line[:-1] if line.endswith("\n") else line
        m = _PLACEHOLDER.match(body)
        if m and int(m.group(2)) in magics:
            ident = int(m.group(2))
            seen.add(ident)
            out.append(magics[ident] + ("\n" if line.endswith("\n") else ""))
        else:
            out.append(line)
    if seen != set(magics):
        raise NotebookError(f"cell {cell}: a rewrite touched an IPython magic line; notebook left unchanged")
    return "".join(out)


def _original_source(nb: NotebookSource, cell: Cell) -> str:
    value = _DECODER.raw_decode(nb.document, cell.value_span[0])[0]
    return "".join(value) if isinstance(value, list) else value


def _skip(doc: str, i: int) -> int:
    return _WS.match(doc, i).end()  # type: ignore[union-attr]


def _object_members(doc: str, i: int) -> list[tuple[str, int, int]]:
    """(key, value start, value end) of the JSON object starting at ``doc[i] == '{'``."""
    out = []
    i = _skip(doc, i + 1)
    if doc[i] == "}":
        return out
    while True:
        key, i = scanstring(doc, i + 1)
        i = _skip(doc, i)
        i = _skip(doc, i + 1)  # the ':'
        _, end = _DECODER.raw_decode(doc, i)
        out.append((key, i, end))
        i = _skip(doc, end)
        if doc[i] == ",":
            i = _skip(doc, i + 1)
            continue
        return out


def _array_items(doc: str, i: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    i = _skip(doc, i + 1)
    if doc[i] == "]":
        return out
    while True:
        _, end = _DECODER.raw_decode(doc, i)
        out.append((i, end))
        i = _skip(doc, end)
        if doc[i] == ",":
            i = _skip(doc, i + 1)
            continue
        return out


def _line_of(doc: str, offset: int, newlines: list[int]) -> int:
    import bisect

    return bisect.bisect_right(newlines, offset - 1) + 1


@dataclass
class _Scan:
    """Where a line starts: inside brackets, a string, or after a backslash continuation."""

    depth: int = 0
    quote: str | None = None
    continued: bool = False

    @property
    def at_statement(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if self.quote is not None:
                if c == "\\":
                    i += 2
                    continue
                if line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                    continue
                i += 1
                continue
            if c == "#":
                self.continued = False
                return
            if c in "\"'":
                triple = line[i : i + 3]
                self.quote = triple if triple in ('"""', "'''") else c
                i += len(self.quote)
                continue
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            i += 1
        body = line.rstrip("\r\n")
        if self.quote in ('"', "'") and not body.endswith("\\"):
            self.quote = None  # an unterminated one-line string: leave it to the parser
        self.continued = self.quote is None and body.endswith("\\")


def _is_magic(body: str, first: bool) -> bool | None:
    """True for IPython-only syntax; None for a cell magic whose body is not Python."""
    stripped = body.lstrip()
    if first and stripped.startswith("%%"):
        name = stripped[2:].split(maxsplit=1)[0] if stripped[2:].strip() else ""
        return True if name in PYTHON_CELL_MAGICS else None
    if stripped.startswith(("%", "!", "?")) or _HELP.match(body) or _SHELL_ASSIGN.match(body):
        return True
    m = _AUTOMAGIC.match(body)
    if m and m.group(1) in AUTOMAGICS:
        rest = body[m.end(1) :].lstrip()
        if rest[:1] in "=([{,:;.+-*/%&|^<>!@" and not rest.startswith(("-", "/", "..")):
            return False  # `history = model.fit(...`: Python that starts with a magic's name
        line = _Scan()
        line.feed(body)
        if not line.at_statement:
            return False  # opens a bracket or a string that later lines close: Python
        try:
            compile(stripped, "<cell>", "exec")
        except SyntaxError:
            return True
    return False


def _transform(source: str, counter: list[int]) -> tuple[str, tuple[tuple[int, str], ...]] | None:
    """IPython syntax -> placeholders; None when the cell is a non-Python ``%%magic`` cell."""
    lines = _lines(source)
    magics: list[tuple[int, str]] = []
    out: list[str] = []
    first_code = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    scan = _Scan()
    i = 0
    while i < len(lines):
        line = lines[i]
        body = line.rstrip("\n")
        magic = _is_magic(body, i == first_code) if scan.at_statement else False
        if magic is None:
            return None
        if not magic:
            scan.feed(line)
            out.append(line)
            i += 1
            continue
        indent = body[: len(body) - len(body.lstrip())]
        # A magic continues on the next line after a trailing backslash.
        while True:
            counter[0] += 1
            magics.append((counter[0], lines[i].rstrip("\n")))
            end = "\n" if lines[i].endswith("\n") else ""
            out.append(f"{indent}pass  # kmigrate-magic {counter[0]}{end}")
            if not lines[i].rstrip("\n").endswith("\\") or i + 1 >= len(lines):
                break
            i += 1
        i += 1
    return "".join(out), tuple(magics)


def _is_python(nb: dict) -> bool:
    meta = nb.get("metadata")
    if not isinstance(meta, dict):
        return True
    for key, sub in (("kernelspec", "language"), ("language_info", "name")):
        value = meta.get(key)
        if isinstance(value, dict) and isinstance(value.get(sub), str):
            return value[sub].lower().startswith("python")
    return True


def _style(document: str) -> tuple[bool, str]:
    """(ensure_ascii, indent unit) as the notebook was written."""
    ensure_ascii = False
    if not any(ord(c) > 127 for c in document) and re.search(r"\\u(?:00[89a-fA-F]|0[1-9a-fA-F]|[1-9a-fA-F])", document):
        ensure_ascii = True
    m = re.search(r"\n([ \t]+)\S", document)
    return ensure_ascii, (m.group(1) if m else " ")


def read_notebook(path: Path, display: str, raw: bytes) -> NotebookSource | FileError:
    try:
        return parse_notebook(path, display, raw)
    except NotebookError as exc:
        return FileError(display, str(exc))


def parse_notebook(path: Path, display: str, raw: bytes) -> NotebookSource:
    bom = raw.startswith(codecs.BOM_UTF8)
    try:
        document = raw[3:].decode("utf-8") if bom else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"notebook is not UTF-8: invalid byte at offset {exc.start}") from None
    try:
        nb = json.loads(document)
    except ValueError as exc:
        raise NotebookError(f"notebook is not valid JSON: {exc}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        if isinstance(nb, dict) and "worksheets" in nb:
            raise NotebookError("nbformat 3 notebooks are not supported (upgrade with `jupyter nbconvert --to notebook`)")
        raise NotebookError("not a Jupyter notebook: no `cells` list")
    major = nb.get("nbformat")
    if isinstance(major, int) and major < 4:
        raise NotebookError(f"nbformat {major} notebooks are not supported (upgrade with `jupyter nbconvert --to notebook`)")
    top = _skip(document, 0)
    members = {k: (s, e) for k, s, e in _object_members(document, top)}
    cell_items = _array_items(document, members["cells"][0])
    python = _is_python(nb)
    newlines = [m.start() for m in re.finditer("\n", document)]
    cells: list[Cell] = []
    json_lines: list[tuple[int, ...]] = []
    counter = [0]
    for index, (cell_json, (cs, _)) in enumerate(zip(nb["cells"], cell_items), 1):
        if not isinstance(cell_json, dict):
            raise NotebookError(f"cell {index}: not a JSON object")
        source = cell_json.get("source")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            text, is_list = "".join(source), True
        elif isinstance(source, str):
            text, is_list = source, False
        else:
            raise NotebookError(f"cell {index}: `source` must be a string or a list of strings")
        if cell_json.get("cell_type") != "code" or not python:
            continue
        transformed = _transform(text, counter)
        if transformed is None:
            continue
        body, magics = transformed
        span = next((s, e) for k, s, e in _object_members(document, cs) if k == "source")
        cells.append(
            Cell(index, body if body.endswith("\n") else body + "\n", text.endswith("\n"), is_list, span, magics)
        )
        if is_list:
            json_lines.append(tuple(_line_of(document, s, newlines) for s, _ in _array_items(document, span[0])))
        else:
            json_lines.append((_line_of(document, span[0], newlines),) * (text.count("\n") + 1))
    for cell in cells:
        if BOUNDARY in cell.text:
            raise NotebookError(f"cell {cell.index} contains kmigrate's cell boundary marker")
    text = ("\n" + BOUNDARY + "\n").join(c.text[:-1] for c in cells) + ("\n" if cells else "")
    starts, line = [], 1
    for c in cells:
        starts.append(line)
        line += c.text.count("\n") + 1
    ensure_ascii, unit = _style(document)
    return NotebookSource(
        path=path,
        display=display,
        text=text,
        encoding="utf-8",
        bom=bom,
        raw=raw,
        document=document,
        cells=tuple(cells),
        starts=tuple(starts),
        ensure_ascii=ensure_ascii,
        indent_unit=unit,
        json_lines=tuple(json_lines),
    )
