"""The config file: found upward, checked key by key, and overridden by the command line."""

from __future__ import annotations

import json
import re

import pytest
from helpers import DATA
from typer.testing import CliRunner

from overfitcheck.cli import app
from overfitcheck.errors import ConfigProblem, ExitCode
from overfitcheck.project_config import (
    find_project_config,
    load_project_config,
    resolve,
)

FILE = """\
cv = 3
n-alphas = 6
seed = 1
alphas = [0.01, 0.1, 1]
fail_on = "overfitting"

[[datasets]]
path = "data/*.csv"
target = "y"
seed = 2

[[datasets]]
path = "other.csv"
name = "renamed"
target = "z"
gap-fraction = 0.2
"""


def test_keys_with_dashes_or_underscores_and_dataset_overrides(tmp_path):
    (tmp_path / "overfitcheck.toml").write_text(FILE)
    project = load_project_config(tmp_path / "overfitcheck.toml")
    assert project.defaults == {"cv": 3, "n_alphas": 6, "seed": 1, "alphas": (0.01, 0.1, 1.0),
                                "fail_on": "overfitting"}
    first, second = project.datasets
    assert (first.path, first.name, first.values) == ("data/*.csv", None,
                                                       {"target": "y", "seed": 2})
    assert (second.name, second.values) == ("renamed", {"target": "z", "gap_fraction": 0.2})
    assert isinstance(second.values["gap_fraction"], float)


def test_precedence_default_then_file_then_dataset_then_command_line(tmp_path):
    (tmp_path / "overfitcheck.toml").write_text(FILE)
    project = load_project_config(tmp_path / "overfitcheck.toml")
    file = str(tmp_path / "overfitcheck.toml")
    resolved = resolve({"cv": 4}, project, project.datasets[0])
    assert {k: resolved.values[k] for k in ("cv", "seed", "n_alphas", "target", "max_levels",
                                            "fail_on")} == {
        "cv": 4, "seed": 2, "n_alphas": 6, "target": "y", "max_levels": 20,
        "fail_on": "overfitting"}
    assert resolved.sources["cv"] == "command line"
    assert resolved.sources["seed"] == f"{file} [[datasets]] #1"
    assert resolved.sources["n_alphas"] == file
    assert resolved.sources["max_levels"] == "default"
    assert resolved.config().cv == 4
    # without the command line, the dataset entry beats the file's defaults
    assert resolve({}, project, project.datasets[0]).values["seed"] == 2
    assert resolve({}, project).values["seed"] == 1


def test_file_defaults_lose_to_the_command_line_in_a_real_run(tmp_path, monkeypatch):
    """file < CLI, end to end: the diagnosis records the options it ran with."""
    (tmp_path / "overfitcheck.toml").write_text(
        f'cv = 3\nseed = 4\nn-alphas = 5\nno-plots = true\n[[datasets]]\npath = '
        f'"{DATA / "diabetes.csv"}"\ntarget = "target"\nseed = 5\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["diagnose", "--cv", "4", "--format", "json", "-q"])
    assert result.exit_code == 0, result.output
    batch = json.loads(result.stdout)
    assert [d["name"] for d in batch["datasets"]] == ["diabetes"]
    report = json.loads((tmp_path / "overfitcheck-report" / "diabetes" / "report.json")
                        .read_text())
    assert (report["config"]["cv"], report["config"]["seed"], report["config"]["n_alphas"]) \
        == (4, 5, 5)
    assert len(report["folds"]["train_sizes"]) == 4
    assert not list((tmp_path / "overfitcheck-report" / "diabetes").glob("*.png"))


def test_config_command_shows_each_value_and_its_source(tmp_path, monkeypatch):
    (tmp_path / "overfitcheck.toml").write_text(FILE)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "other.csv").write_text("x,z\n1,2\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["config", "--format", "json", "--cv", "7"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    file = "overfitcheck.toml"  # relative to the current folder
    assert data["config_file"] == file
    assert [(d["name"], d["path"]) for d in data["datasets"]] == [
        ("a", "data/a.csv"), ("renamed", "other.csv")]
    a, renamed = (d["options"] for d in data["datasets"])
    assert a["cv"] == {"value": 7, "source": "command line"}
    assert a["seed"] == {"value": 2, "source": f"{file} [[datasets]] #1"}
    assert renamed["seed"] == {"value": 1, "source": file}
    assert renamed["gap_fraction"] == {"value": 0.2, "source": f"{file} [[datasets]] #2"}
    assert renamed["alphas"]["value"] == [0.01, 0.1, 1.0]
    assert a["fail_on"] == {"value": "overfitting", "source": file}
    table = CliRunner().invoke(app, ["config"], env={"COLUMNS": "100"})
    assert table.exit_code == 0
    assert re.search(r"\n--gap-fraction +0\.2 +overfitcheck\.toml \[\[datasets\]\] #2 *\n",
                     table.stdout)


def test_found_upward_and_stops_at_the_repository_root(tmp_path):
    deep = tmp_path / "repo" / "src" / "deep"
    deep.mkdir(parents=True)
    (tmp_path / "overfitcheck.toml").write_text("cv = 3\n")
    assert find_project_config(deep) == tmp_path / "overfitcheck.toml"
    (tmp_path / "repo" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_project_config(deep) == tmp_path / "overfitcheck.toml"  # no table: not it
    (tmp_path / "repo" / ".git").mkdir()
    assert find_project_config(deep) is None  # the search ends at the repository root
    (tmp_path / "repo" / "pyproject.toml").write_text("[tool.overfitcheck]\ncv = 4\n")
    assert find_project_config(deep) == tmp_path / "repo" / "pyproject.toml"
    assert load_project_config(tmp_path / "repo" / "pyproject.toml").defaults == {"cv": 4}
    (tmp_path / "repo" / "src" / "overfitcheck.toml").write_text("cv = 6\n")
    assert find_project_config(deep) == tmp_path / "repo" / "src" / "overfitcheck.toml"


@pytest.mark.parametrize(("text", "line"), [
    ("cvv = 3\n", "{f}: unknown key 'cvv' (did you mean 'cv'?). Fix: use the long option names "
     "of overfitcheck diagnose --help"),
    ('cv = "five"\n', "{f}: key 'cv' must be an integer, not a string ('five'). Fix: write "
     "cv = 5"),
    ("seed = 1.5\n", "{f}: key 'seed' must be an integer, not a number (1.5). Fix: write "
     "seed = 5"),
    ("drop-first = 1\n", "{f}: key 'drop-first' must be true or false, not an integer (1). "
     "Fix: write drop-first = true"),
    ('alphas = ["a"]\n', "{f}: key 'alphas' must be a list of numbers, not a list. Fix: write "
     "alphas = [0.01, 0.1, 1]"),
    ("cv = 1\n", "{f}: --cv must be at least 2, not 1. Fix: change the value in the config "
     "file"),
    ('fail-on = "sometimes"\n', "{f}: key 'fail-on' must be one of never, overfitting, "
     "underfitting, any, not 'sometimes'. Fix: write fail-on = \"overfitting\""),
    ("n-alphas = 3\nn_alphas = 4\n", "{f}: key 'n_alphas' is given twice (also as "
     "'n-alphas'). Fix: keep one of them"),
    ('[[datasets]]\ntarget = "y"\n', "{f}: [[datasets]] #1 has no path. Fix: give path = a "
     "CSV file or a glob, relative to the config file"),
    ('[[datasets]]\npath = "a.csv"\nmax-levels = "many"\n', "{f}: [[datasets]] #1 key "
     "'max-levels' must be an integer, not a string ('many'). Fix: write max-levels = 5"),
    ('[[datasets]]\npath = "a.csv"\noutput-dir = "x"\n', "{f}: [[datasets]] #1 unknown key "
     "'output-dir'. Fix: use the long option names of overfitcheck diagnose --help"),
])
def test_bad_files_name_the_file_key_and_expected_type(tmp_path, monkeypatch, text, line):
    file = tmp_path / "overfitcheck.toml"
    file.write_text(text)
    with pytest.raises(ConfigProblem) as caught:
        load_project_config(file)
    assert caught.value.one_line() == line.format(f=file)
    assert caught.value.exit_code == ExitCode.USAGE
    monkeypatch.chdir(tmp_path)  # found from here, and named relative to it
    file = "overfitcheck.toml"
    result = CliRunner().invoke(app, ["diagnose", str(DATA / "diabetes.csv"), "-t", "target"])
    assert result.exit_code == 2
    assert result.stderr == f"overfitcheck: error: {line.format(f=file)}\n"


def test_pyproject_without_the_table_given_explicitly(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    result = CliRunner().invoke(app, ["config", "--config", str(tmp_path / "pyproject.toml")])
    assert result.exit_code == 2
    assert result.stderr == (f"overfitcheck: error: {tmp_path / 'pyproject.toml'} has no "
                             "[tool.overfitcheck] table. Fix: add [tool.overfitcheck] or give "
                             "an overfitcheck.toml\n")


def test_no_path_and_no_datasets_is_a_usage_error(tmp_path, monkeypatch):
    (tmp_path / "overfitcheck.toml").write_text("cv = 3\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["diagnose"])
    assert result.exit_code == 2
    assert result.stderr == ("overfitcheck: error: no dataset to diagnose: no path given and "
                             "overfitcheck.toml has no [[datasets]]. Fix: give a "
                             "CSV path, or list [[datasets]] with path and target in "
                             "overfitcheck.toml\n")


def test_invalid_toml(tmp_path):
    file = tmp_path / "overfitcheck.toml"
    file.write_text("cv = \n")
    with pytest.raises(ConfigProblem) as caught:
        load_project_config(file)
    line = caught.value.one_line()
    assert line.startswith(f"{file} is not valid TOML (") and "line 1" in line
    assert line.endswith("). Fix: fix the syntax (see https://toml.io)")
