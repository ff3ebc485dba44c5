"""A notebook with a cell that does not parse: that cell is reported, the others still checked."""

from __future__ import annotations

import json
from pathlib import Path


def notebook(tmp_path: Path, cells: list[list[str]]) -> Path:
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
            for src in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb, indent=1) + "\n")
    return path


CELLS = [
    ["import keras\n", "opt = keras.optimizers.Adam(lr=0.1)\n"],
    ["def broken(:\n", "    pass\n"],
    ["for x in data:\n", "    print(x\n"],
    ["opt2 = keras.optimizers.SGD(0.1, decay=0.1)\n"],
]


def test_bad_cells_are_reported_and_the_rest_is_checked(tmp_path: Path, run_cli) -> None:
    path = notebook(tmp_path, CELLS)
    code, out, err = run_cli("check", path, "--format", "json", "--no-cache", "--select", "KM101,KM301")
    assert code == 2
    payload = json.loads(out)
    found = sorted((d["cell"], d["line"], d["code"]) for d in payload["diagnostics"])
    assert found == [(1, 2, "KM301"), (4, 1, "KM101")]
    [error] = payload["errors"]
    assert error["cell"] == 2 and error["line"] == 1 and error["column"] == 12
    assert "cell 3" in error["message"]  # the second bad cell is named too


def test_a_notebook_with_a_bad_cell_is_never_rewritten(tmp_path: Path, run_cli) -> None:
    path = notebook(tmp_path, CELLS)
    before = path.read_bytes()
    code, _, err = run_cli("fix", path, "--apply", "--no-cache")
    assert code == 2 and "cell 2:1:12: error: cannot parse" in err
    assert path.read_bytes() == before
