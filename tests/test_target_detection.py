"""Target Keras version detected from what the project declares (never by running it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kmigrate.versions import Target, detect_target, find_project_root


def detect(tmp_path: Path, files: dict[str, str]) -> Target:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return detect_target(tmp_path)


@pytest.mark.parametrize(
    ("files", "version", "source"),
    [
        ({"requirements.txt": "numpy\nkeras==3.4.1\n"}, "3.4.1", "keras==3.4.1 (requirements.txt:2)"),
        ({"requirements.txt": "keras>=3.4,<3.5 --hash=sha256:0\n"}, "3.4", "requirements.txt:1"),
        ({"requirements-gpu.txt": "keras ~= 3.6.0  # pinned\n"}, "3.6", "requirements-gpu.txt:1"),
        ({"requirements.txt": "-r base.txt\n", "base.txt": "keras==3.5.0\n"}, "3.5.0", "base.txt:1"),
        ({"requirements/prod.txt": "keras==3.8.*\n"}, "3.8", "requirements/prod.txt:1"),
        ({"pyproject.toml": '[project]\ndependencies = ["keras>=3.9,<3.10; python_version>\'3.9\'"]\n'}, "3.9", "project.dependencies"),
        ({"pyproject.toml": '[project.optional-dependencies]\ngpu = ["keras==3.3.3"]\n'}, "3.3.3", "optional-dependencies.gpu"),
        ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.10"\nkeras = "~3.6"\n'}, "3.6", "tool.poetry.dependencies"),
        ({"pyproject.toml": '[tool.poetry.dependencies]\nkeras = {version = "3.7.0", optional = true}\n'}, "3.7.0", "tool.poetry"),
        ({"setup.cfg": "[options]\ninstall_requires =\n    numpy\n    keras==3.2.1\n"}, "3.2.1", "setup.cfg install_requires"),
        (
            {"setup.py": 'from setuptools import setup\nREQS = ["numpy"] + ["keras>=3.1,<3.2"]\nsetup(name="x", install_requires=REQS)\n'},
            "3.1",
            "setup.py install_requires",
        ),
        ({"environment.yml": "dependencies:\n  - python=3.11\n  - conda-forge::keras=3.5\n"}, "3.5", "environment.yml:3"),
        ({"environment.yml": "dependencies:\n  - pip\n  - pip:\n    - keras==3.10.0\n"}, "3.10.0", "environment.yml:4"),
        ({"uv.lock": '[[package]]\nname = "keras"\nversion = "3.11.2"\n'}, "3.11.2", "uv.lock"),
    ],
)
def test_exact_minor_gives_a_version(tmp_path: Path, files: dict[str, str], version: str, source: str) -> None:
    target = detect(tmp_path, files)
    assert str(target.version) == version
    assert source in target.source and target.source.startswith("detected from")


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({"requirements.txt": "tensorflow==2.17.*\n"}, "TensorFlow >= 2.16 bundles Keras 3"),
        ({"requirements.txt": "tensorflow-cpu>=2.16\n"}, "TensorFlow >= 2.16 bundles Keras 3"),
        ({"requirements.txt": "keras>=3.4\n"}, "Keras 3 minor not pinned"),
        ({"pyproject.toml": '[tool.poetry.dependencies]\nkeras = "^3.6"\n'}, "Keras 3 minor not pinned"),
        ({"requirements.txt": "keras<3\n"}, "still on Keras 2"),
        ({"requirements.txt": "tensorflow<2.16\n"}, "still on Keras 2 (TensorFlow < 2.16)"),
        ({"requirements.txt": "tensorflow==2.15.1\nkeras==2.15.0\n"}, "still on Keras 2"),
        ({"requirements.txt": "keras==3.4.1\n", "requirements-dev.txt": "keras>=3.5\n"}, "no Keras version satisfies"),
        ({}, "no keras or tensorflow requirement found"),
        ({"setup.py": "import os\nsetup(install_requires=os.environ['REQS'].split())\n"}, "no keras or tensorflow"),
        ({"pyproject.toml": "not [valid toml\n"}, "no keras or tensorflow"),
    ],
)
def test_unknown_minor(tmp_path: Path, files: dict[str, str], why: str) -> None:
    target = detect(tmp_path, files)
    assert target.unknown and why in target.source


def test_setup_py_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    detect(tmp_path, {"setup.py": f"open({str(marker)!r}, 'w').write('x')\nsetup(install_requires=['keras==3.4'])\n"})
    assert not marker.exists()


def test_project_root_stops_at_the_repository(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("keras==3.4.1\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    assert find_project_root(repo / "src") is None
    (repo / "setup.cfg").write_text("[metadata]\n")
    assert find_project_root(repo / "src") == repo


def test_show_settings_prints_what_was_detected(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "requirements.txt").write_text("keras==3.4.1\n")
    (tmp_path / "m.py").write_text("import keras\n")
    monkeypatch.chdir(tmp_path)
    rc, out, _ = run_cli("check", "--show-settings", "m.py")
    assert rc == 0
    assert re.search(r"target\s+Keras 3\.4\.1 \(detected from keras==3\.4\.1 \(requirements\.txt:1\)\)", out)
    assert re.search(r"project root \(target search\)\s+\.", out)
    assert "rules enabled" in out
    # A flag wins over detection.
    rc, out, _ = run_cli("check", "--show-settings", "m.py", "--target-keras", "3.12")
    assert "Keras 3.12 (--target-keras)" in out
