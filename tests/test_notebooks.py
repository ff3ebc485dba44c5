"""Notebooks: cell positions, IPython syntax, byte-faithful fixes, malformed files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kmigrate.catalogue import load_rules
from kmigrate.diagnostics import FileError, Span
from kmigrate.notebooks import NotebookSource, parse_notebook
from kmigrate.runner import process_source
from kmigrate.sources import read_source
from kmigrate.versions import Target

# The optimizer rules these notebooks exercise; other rules would add findings of their own.
RULES = {r.code: r for r in load_rules() if r.code in ("KM101", "KM301")}
SELECT = ("--select", "KM101,KM301")


def code(source: list[str] | str, outputs: list | None = None) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": outputs or [], "source": source}


def markdown(source: list[str] | str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook(cells: list[dict], *, indent: int = 1, ensure_ascii: bool = False, language: str = "python") -> str:
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": language, "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=indent, ensure_ascii=ensure_ascii) + "\n"


KERAS2 = [
    markdown(["# Training ✓\n", "Some notes."]),
    code(["%matplotlib inline\n", "!pip install -q tensorflow==2.15\n", "import numpy as np\n", "from tensorflow import keras"]),
    markdown("More notes"),
    code(
        ["opt = keras.optimizers.Adam(lr=1e-3)\n", "model = keras.Sequential()\n", "model?"],
        outputs=[{"name": "stdout", "output_type": "stream", "text": ["ok\n"]}],
    ),
    code("%%bash\necho keras.optimizers.Adam(lr=1)\n"),
    code(["%%time\n", "sgd = keras.optimizers.SGD(0.1, decay=1e-4)  # é"]),
]


def write(tmp_path: Path, text: str, name: str = "nb.ipynb") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_check_reports_cell_positions(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, notebook(KERAS2))
    rc, out, _ = run_cli("check", path, "--format", "concise", "--isolated", *SELECT)
    assert rc == 1
    first, second = out.splitlines()
    assert first.startswith(f"{path}:cell 4:1:29: KM301 ")
    assert second.startswith(f"{path}:cell 6:2:33: KM101 ")


def test_cell_numbers_count_every_cell_and_names_flow_between_cells(tmp_path: Path) -> None:
    # `keras` is imported in cell 2 and used in cell 4: the concatenation makes it known.
    src = parse_notebook(tmp_path / "nb.ipynb", "nb.ipynb", notebook(KERAS2).encode())
    assert [c.index for c in src.cells] == [2, 4, 6]  # markdown counted, %%bash cell skipped
    result = process_source(src, RULES, Target())
    assert [(d.cell, d.span.line, d.code) for d in result.diagnostics] == [(4, 1, "KM301"), (6, 2, "KM101")]


def test_magics_are_hidden_line_for_line() -> None:
    cell = [
        "%load_ext autoreload\n",
        "!ls -la \\\n",
        "   more\n",
        "files = !ls\n",
        "t = %timeit -o f()\n",
        "keras.layers.Dense?\n",
        "??keras\n",
        "pip install keras\n",
        "cd ..\n",
        "ls = [1, 2]\n",
        "history = model.fit(x,\n",
        "                    epochs=3)\n",
        "if True:\n",
        "    %time g()\n",
        "x = (1\n",
        "     % 2)\n",
        "s = '''\n",
        "!not a magic inside a string\n",
        "'''\n",
        "from tensorflow import keras",
    ]
    src = parse_notebook(Path("nb.ipynb"), "nb.ipynb", notebook([code(cell)]).encode())
    lines = src.text.splitlines()
    assert len(lines) == len(cell)
    hidden = [i + 1 for i, line in enumerate(lines) if "kmigrate-magic" in line]
    assert hidden == [1, 2, 3, 4, 5, 6, 7, 8, 9, 14]
    assert lines[13] == "    pass  # kmigrate-magic 10"
    # Python that merely looks like a magic is left alone.
    assert lines[9] == "ls = [1, 2]" and lines[15] == "     % 2)" and lines[17] == "!not a magic inside a string"
    assert lines[10] == "history = model.fit(x,"
    compile(src.text, "nb", "exec")
    assert src.render(src.text) == src.raw


def test_non_python_notebooks_are_not_analysed() -> None:
    src = parse_notebook(Path("nb.ipynb"), "nb.ipynb", notebook([code("library(keras)")], language="R").encode())
    assert src.text == "" and src.cells == ()


def _apply(tmp_path: Path, text: str, *args: str) -> tuple[str, str]:
    path = write(tmp_path, text)
    from typer.testing import CliRunner

    from kmigrate.cli import app

    result = CliRunner().invoke(app, ["fix", "--apply", "--isolated", *SELECT, str(path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return text, path.read_text(encoding="utf-8")


def _changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    import difflib

    diff = list(difflib.ndiff(old.splitlines(), new.splitlines()))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


@pytest.mark.parametrize(
    "style", [{"indent": 1}, {"indent": 2}, {"indent": 1, "ensure_ascii": True}], ids=["nbformat", "indent2", "ascii"]
)
def test_fix_rewrites_only_the_changed_source_lines(tmp_path: Path, style: dict) -> None:
    old, new = _apply(tmp_path, notebook(KERAS2, **style))
    removed, added = _changed_lines(old, new)
    assert [r.strip() for r in removed] == [
        '"opt = keras.optimizers.Adam(lr=1e-3)\\n",',
        json.dumps("sgd = keras.optimizers.SGD(0.1, decay=1e-4)  # é", ensure_ascii=style.get("ensure_ascii", False)),
    ]
    assert [a.strip() for a in added] == [
        '"opt = keras.optimizers.Adam(learning_rate=1e-3)\\n",',
        json.dumps(
            "sgd = keras.optimizers.SGD(keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-4))  # é",
            ensure_ascii=style.get("ensure_ascii", False),
        ),
    ]
    # The magics, the outputs and the markdown are untouched, and the notebook is still valid.
    nb = json.loads(new)
    assert nb["cells"][1]["source"][:2] == ["%matplotlib inline\n", "!pip install -q tensorflow==2.15\n"]
    assert nb["cells"][3]["outputs"][0]["text"] == ["ok\n"]
    assert new.endswith("}\n")


def test_fix_keeps_string_sources_as_strings(tmp_path: Path) -> None:
    cells = [code("from tensorflow import keras\nopt = keras.optimizers.Adam(lr=0.1)\n")]
    _, new = _apply(tmp_path, notebook(cells))
    assert json.loads(new)["cells"][0]["source"] == "from tensorflow import keras\nopt = keras.optimizers.Adam(learning_rate=0.1)\n"


def test_inserted_import_lands_after_the_last_import_in_its_cell(tmp_path: Path) -> None:
    cells = [
        code(["import numpy as np\n", "from tensorflow.keras.optimizers import SGD"]),
        markdown("text"),
        code(["opt = SGD(0.1, decay=1e-4)"]),
    ]
    _, new = _apply(tmp_path, notebook(cells))
    nb = json.loads(new)
    assert nb["cells"][0]["source"] == [
        "import numpy as np\n",
        "from tensorflow.keras.optimizers import SGD\n",
        "from tensorflow.keras.optimizers.schedules import InverseTimeDecay",
    ]
    assert nb["cells"][2]["source"] == ["opt = SGD(InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-4))"]


def test_fix_diff_is_per_cell(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, notebook(KERAS2))
    rc, out, _ = run_cli("fix", path, "--isolated", *SELECT)
    assert rc == 1
    assert f"--- a/{path}:cell 4\n+++ b/{path}:cell 4\n" in out
    assert "-opt = keras.optimizers.Adam(lr=1e-3)\n+opt = keras.optimizers.Adam(learning_rate=1e-3)\n" in out
    assert path.read_text(encoding="utf-8") == notebook(KERAS2)


def test_remaining_findings_after_fix_map_through_the_new_layout(tmp_path: Path) -> None:
    cells = [
        code(["import numpy as np\n", "from tensorflow.keras.optimizers import SGD"]),
        code(["opt = SGD(0.1, decay=1e-4)\n", "opt.lr = 0.5"]),
    ]
    src = parse_notebook(tmp_path / "nb.ipynb", "nb.ipynb", notebook(cells).encode())
    result = process_source(src, RULES, Target(), fix=True)
    assert result.fixed_text is not None and result.fixed_text.count("\n") == src.text.count("\n") + 1
    # Whatever remains is reported in cell 2 at its own line, although cell 1 grew a line.
    assert all(d.cell == 2 for d in result.diagnostics)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_diff_shows_only_the_edited_lines(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    path = write(repo, notebook(KERAS2), "translate.ipynb")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=repo, check=True, capture_output=True, text=True,
        ).stdout

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "notebook")
    from typer.testing import CliRunner

    from kmigrate.cli import app

    result = CliRunner().invoke(app, ["fix", "--apply", "--isolated", *SELECT, str(path)], catch_exceptions=False)
    assert result.exit_code == 0
    diff = git("diff", "-U0", "--no-color")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == [
        '-    "opt = keras.optimizers.Adam(lr=1e-3)\\n",',
        '+    "opt = keras.optimizers.Adam(learning_rate=1e-3)\\n",',
        '-    "sgd = keras.optimizers.SGD(0.1, decay=1e-4)  # é"',
        '+    "sgd = keras.optimizers.SGD(keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-4))  # é"',
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"cells": [', "notebook is not valid JSON"),
        ("[1, 2]", "not a Jupyter notebook: no `cells` list"),
        ('{"worksheets": [], "nbformat": 3}', "nbformat 3 notebooks are not supported"),
        ('{"cells": [{"cell_type": "code", "source": 3}], "nbformat": 4}', "cell 1: `source` must be a string or a list of strings"),
        ('{"cells": [7], "nbformat": 4}', "cell 1: not a JSON object"),
    ],
)
def test_malformed_notebooks_exit_2_with_one_line_and_stay_untouched(
    tmp_path: Path, run_cli, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    rc, out, err = run_cli("check", "--isolated", path)
    assert rc == 2
    assert err == f"{path}: error: {err.split(': error: ')[1]}" and err.count("\n") == 1 and message in err
    rc, out, err = run_cli("fix", "--apply", "--isolated", path)
    assert rc == 2 and message in err
    assert path.read_text(encoding="utf-8") == text


def test_a_syntax_error_is_reported_in_its_cell(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path, notebook([code("import keras"), markdown("x"), code(["x = 1\n", "def f(:\n"])]))
    rc, _, err = run_cli("check", "--isolated", path)
    assert rc == 2 and "cell 3:" in err and ":2:" in err


def test_rewrite_that_crosses_a_cell_boundary_is_refused() -> None:
    src = parse_notebook(Path("nb.ipynb"), "nb.ipynb", notebook([code("a = 1"), code("b = 2")]).encode())
    with pytest.raises(ValueError, match="cell boundary"):
        src.render("a = 1\nb = 2\n")


def test_map_span_and_json_lines() -> None:
    src = parse_notebook(Path("nb.ipynb"), "nb.ipynb", notebook(KERAS2).encode())
    assert isinstance(src, NotebookSource)
    cell4_line = src.starts[1]
    assert src.map_span(Span(cell4_line + 1, 3, cell4_line + 1, 8)) == (4, Span(2, 3, 2, 8))
    raw_lines = src.raw.decode().splitlines()
    assert '"model = keras.Sequential()\\n"' in raw_lines[src.json_line(4, 2) - 1]


def test_read_source_dispatches_notebooks(tmp_path: Path) -> None:
    path = write(tmp_path, "not json")
    assert isinstance(read_source(path), FileError)


def _notebooks_in_repo() -> list[Path]:
    root = Path(__file__).resolve().parent.parent
    return sorted(p for p in (root / "fixtures").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("style", [{"indent": 1}, {"indent": 2, "ensure_ascii": True}])
def test_every_cell_re_encodes_to_its_own_bytes(style: dict) -> None:
    src = parse_notebook(Path("nb.ipynb"), "nb.ipynb", notebook(KERAS2, **style).encode())
    for cell in src.cells:
        start, end = cell.value_span
        original = json.loads(src.document[start:end])
        text = "".join(original) if isinstance(original, list) else original
        assert src._encode_source(cell, text) == src.document[start:end]


@pytest.mark.parametrize("path", _notebooks_in_repo(), ids=lambda p: p.name)
def test_repository_notebooks_check_and_round_trip(tmp_path: Path, path: Path, run_cli) -> None:
    """The notebooks shipped as cases (the NMT encoder-decoder, ...) read, check and fix cleanly."""
    raw = path.read_bytes()
    src = parse_notebook(path, path.name, raw)
    compile(src.text, path.name, "exec")
    for cell in src.cells:
        start, end = cell.value_span
        original = json.loads(src.document[start:end])
        assert src._encode_source(cell, "".join(original) if isinstance(original, list) else original) == src.document[start:end]
    copy = tmp_path / path.name
    copy.write_bytes(raw)
    rc, out, err = run_cli("check", "--isolated", "--no-cache", "-f", "json", copy)
    assert rc in (0, 1), err
    assert all(d["cell"] is not None for d in json.loads(out)["diagnostics"])
    rc, _, err = run_cli("fix", "--isolated", "--no-cache", "--apply", "--unsafe-fixes", copy)
    assert rc in (0, 1), err
    json.loads(copy.read_text(encoding="utf-8"))
