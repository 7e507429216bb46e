"""The README stays true: its two quickstart commands work as written, and it lists every option."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess

import typer
from helpers import ROOT
from PIL import Image

from overfitcheck.cli import app

README = (ROOT / "README.md").read_text(encoding="utf-8")
INSTALL_AND_RUN = ("pip install . && overfitcheck diagnose sample_data/telco_churn.csv "
                   "--target churn")
INSTALL_AND_TEST = "pip install '.[test]' && python -m pytest"
PNGS = ("validation_curve_l1.png", "validation_curve_l2.png", "learning_curves.png",
        "coefficient_path_l1.png", "summary.png")


def _bash_blocks() -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", README, re.S)]


def test_quickstart_is_exactly_two_commands():
    assert _bash_blocks() == [INSTALL_AND_RUN, INSTALL_AND_TEST]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert INSTALL_AND_TEST in ci.splitlines()


def test_quickstart_runs_as_written(tmp_path):
    """The first command's diagnosis, as a real subprocess of the installed console script, in a
    folder laid out like the repo; the PNGs it writes decode to real images."""
    (tmp_path / "sample_data").mkdir()
    shutil.copy(ROOT / "sample_data" / "telco_churn.csv", tmp_path / "sample_data")
    command = shlex.split(INSTALL_AND_RUN.split(" && ", 1)[1])
    assert shutil.which(command[0]), "the package must be installed (pip install '.[test]')"
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr
    for words in ("unregularized", "L1 (lasso)", "L2 (ridge)", "GOOD FIT"):
        assert words in completed.stdout
    out = tmp_path / "overfitcheck-report"
    report = json.loads((out / "report.json").read_text())
    assert (report["verdict"], report["task"], report["n_rows"]) == ("good_fit", "binary", 7043)
    for name in PNGS:
        with Image.open(out / name) as image:
            image.load()
            assert image.size[0] >= 600 and image.size[1] >= 400
            assert len(image.getcolors(maxcolors=1_000_000) or []) > 50


def test_readme_lists_every_option():
    command = typer.main.get_command(app)
    options = {"--version"}
    for sub in command.commands.values():
        for param in sub.params:
            options.update(o for o in param.opts if o.startswith("--"))
    missing = sorted(o for o in options if f"`{o}`" not in README)
    assert not missing, f"options missing from README.md: {missing}"


def test_readme_shows_the_benchmarks_main_table():
    """The README's Speed section holds the table of bench/results.json's main run, as the
    benchmark wrote it: rewriting the paragraph above it once dropped the table."""
    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    table = results["markdown"].strip()
    assert table.startswith("| size |") and table.count("\n") >= 3
    speed = README[README.index("## Speed and memory"):README.index("## Use in CI")]
    assert table in speed
