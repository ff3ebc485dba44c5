"""``# kmigrate: ignore`` comments: honoured, reported when unused, added as a baseline."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from kmigrate.catalogue import load_rules
from kmigrate.diagnostics import FileError
from kmigrate.runner import check_text
from kmigrate.suppressions import add, scan
from kmigrate.versions import Target

# The optimizer rules these examples are about; other rules would add findings of their own.
RULES = {r.code: r for r in load_rules() if r.code in ("KM101", "KM301")}
SELECT = ("--select", "KM101,KM301")
HEAD = "from tensorflow import keras\n"


def findings(body: str, *, unused: bool = False, rules: dict | None = None) -> list[tuple[int, str]]:
    text = HEAD + textwrap.dedent(body)
    diags = check_text(text, "m.py", rules or RULES, Target(), report_unused=unused)
    assert not isinstance(diags, FileError), diags
    return [(d.span.line, d.code) for d in diags]


def test_line_suppressions() -> None:
    assert findings("opt = keras.optimizers.SGD(0.1, decay=1e-4)\n") == [(2, "KM101")]
    assert findings("opt = keras.optimizers.SGD(0.1, decay=1e-4)  # kmigrate: ignore[KM101]\n") == []
    assert findings("opt = keras.optimizers.SGD(0.1, decay=1e-4)  # kmigrate: ignore\n") == []
    assert findings("opt = keras.optimizers.SGD(0.1, decay=1e-4)  # KMIGRATE: Ignore[km101]\n") == []
    assert findings("opt = keras.optimizers.SGD(0.1, decay=1e-4)  # kmigrate: ignore[KM301]\n") == [(2, "KM101")]
    both = "opt = keras.optimizers.SGD(lr=0.1, decay=1e-4)  # kmigrate: ignore[KM101, KM301]\n"
    assert findings(both) == []
    assert findings("opt = keras.optimizers.SGD(lr=0.1, decay=1e-4)  # noqa: E501  # kmigrate: ignore[KM301]\n") == [
        (2, "KM101")
    ]


def test_multi_line_statement_first_or_last_line() -> None:
    body = """\
    opt = keras.optimizers.SGD(  # kmigrate: ignore[KM101]
        0.1,
        decay=1e-4,
    )
    """
    assert findings(body) == []
    body = """\
    opt = keras.optimizers.SGD(
        0.1,
        decay=1e-4,
    )  # kmigrate: ignore[KM101]
    """
    assert findings(body) == []
    body = """\
    opt = keras.optimizers.SGD(
        0.1,  # kmigrate: ignore[KM101]
        decay=1e-4,
    )
    """
    assert findings(body) == [(4, "KM101")]  # a comment on another inner line does not count


def test_comments_inside_strings_do_not_count() -> None:
    body = 'opt = keras.optimizers.SGD(0.1, decay=1e-4); s = "# kmigrate: ignore"\n'
    assert findings(body) == [(2, "KM101")]
    assert findings('doc = """\n# kmigrate: ignore-file\n"""\nopt = keras.optimizers.SGD(0.1, decay=1e-4)\n') == [
        (5, "KM101")
    ]


def test_file_level() -> None:
    body = "# kmigrate: ignore-file\nopt = keras.optimizers.SGD(lr=0.1, decay=1e-4)\n"
    assert findings(body) == []
    body = "opt = keras.optimizers.SGD(lr=0.1, decay=1e-4)\n# kmigrate: ignore-file[KM301]\n"
    assert findings(body) == [(2, "KM101")]


def test_unused_suppressions_are_reported_with_a_fix(tmp_path: Path, run_cli) -> None:
    body = """\
    opt = keras.optimizers.Adam(0.1)  # kmigrate: ignore[KM101]
    sgd = keras.optimizers.SGD(lr=0.1, decay=1e-4)  # kmigrate: ignore[KM101,KM301,KM999]
    x = 1  # kmigrate: ignore
    y = 2  # kmigrate: ignore[KM101]  -- was a decay
    """
    got = findings(body, unused=True)
    assert got == [(2, "KM001"), (3, "KM001"), (4, "KM001"), (5, "KM001")]
    assert findings(body) == []  # not reported unless asked
    # Codes of rules that are off for this file are not "unused".
    only301 = {"KM301": RULES["KM301"]}
    assert findings("opt = keras.optimizers.Adam(0.1)  # kmigrate: ignore[KM101]\n", unused=True, rules=only301) == []

    path = tmp_path / "m.py"
    path.write_text(HEAD + textwrap.dedent(body))
    rc, out, _ = run_cli("check", "--isolated", *SELECT, "-f", "concise", "--report-unused-suppressions", path)
    assert rc == 1 and "KM001 Unused suppression code `KM101`" in out and "`KM999`" in out
    rc, out, err = run_cli("fix", "--isolated", *SELECT, "--apply", "--report-unused-suppressions", path)
    assert rc == 0, out + err
    assert path.read_text() == HEAD + textwrap.dedent(
        """\
        opt = keras.optimizers.Adam(0.1)
        sgd = keras.optimizers.SGD(lr=0.1, decay=1e-4)  # kmigrate: ignore[KM101,KM301]
        x = 1
        y = 2  #  -- was a decay
        """
    )


def test_explain_km001(run_cli) -> None:
    rc, out, _ = run_cli("explain", "KM001")
    assert rc == 0 and out.startswith("# KM001 unused-suppression")
    rc, out, _ = run_cli("rules")
    assert "KM001" not in out


def test_add_places_comments_where_they_count() -> None:
    text = HEAD + textwrap.dedent(
        '''\
        opt = keras.optimizers.SGD(lr=0.1, decay=1e-4)
        opt2 = keras.optimizers.SGD(0.1,
                                    decay=1e-4)  # an existing comment
        opt3 = keras.optimizers.Adam(0.1, \\
                                     lr=0.1)
        doc = keras.optimizers.SGD(decay=1e-4, name="""x
        y""")
        old = keras.optimizers.SGD(decay=1e-4)  # kmigrate: ignore[KM301]
        '''
    )
    diags = check_text(text, "m.py", RULES, Target())
    assert not isinstance(diags, FileError)
    new, n = add(text, diags)
    cst.parse_module(new)
    assert check_text(new, "m.py", RULES, Target()) == []
    lines = new.splitlines()
    assert lines[1].endswith("  # kmigrate: ignore[KM101,KM301]")
    assert lines[3].endswith("# an existing comment  # kmigrate: ignore[KM101]")  # the statement's last line
    assert lines[4].endswith("\\") and lines[5].endswith("  # kmigrate: ignore[KM301]")
    assert lines[7] == 'y""")  # kmigrate: ignore[KM101]'  # the string's first line cannot take it
    assert lines[8].endswith("# kmigrate: ignore[KM101,KM301]")
    assert n == 5
    assert add(new, check_text(new, "m.py", RULES, Target())) == (new, 0)  # type: ignore[arg-type]


def test_add_suppressions_cli_on_a_project_with_a_notebook(tmp_path: Path, run_cli) -> None:
    from tests.test_notebooks import KERAS2, notebook

    (tmp_path / "m.py").write_text(HEAD + "opt = keras.optimizers.SGD(lr=0.1, decay=1e-4)\r\n")
    (tmp_path / "nb.ipynb").write_text(notebook(KERAS2))
    rc, out, err = run_cli("check", "--isolated", *SELECT, "--add-suppressions", tmp_path)
    assert rc == 0 and "Added 3 suppressions to 2 files." in err
    assert (tmp_path / "m.py").read_bytes().endswith(b"  # kmigrate: ignore[KM101,KM301]\r\n")
    nb = json.loads((tmp_path / "nb.ipynb").read_text())
    assert nb["cells"][3]["source"][0] == "opt = keras.optimizers.Adam(lr=1e-3)  # kmigrate: ignore[KM301]\n"
    assert nb["cells"][5]["source"][1].endswith("# é  # kmigrate: ignore[KM101]")
    rc, out, _ = run_cli("check", "--isolated", *SELECT, tmp_path)
    assert rc == 0
    rc, out, _ = run_cli("check", "--isolated", *SELECT, "--report-unused-suppressions", tmp_path)
    assert rc == 0


def test_scan_is_cheap_without_directives() -> None:
    assert scan("import keras\nx = 1  # an ordinary comment\n") is None


@pytest.mark.parametrize("text", ["x = (\n", "def f(:\n"])
def test_scan_survives_broken_code(text: str) -> None:
    scan(text + "# kmigrate: ignore\n")
