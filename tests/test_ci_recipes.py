"""The README's CI recipes work as written: the overfitcheck commands of its GitHub Actions
workflow and its GitLab CI job run for real, in a folder laid out like this repository with the
README's overfitcheck.toml."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT
from junitparser import Failure, JUnitXml

README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = README[README.index("## Use in CI\n"):README.index("## Data\n")]


def _block(language: str, containing: str) -> str:
    blocks = [b for b in re.findall(rf"```{language}\n(.*?)```", CI, re.S) if containing in b]
    assert len(blocks) == 1, f"one ```{language} block with {containing!r} in Use in CI"
    return blocks[0]


def _commands(yaml: str) -> list[str]:
    """Shell lines of `run:` steps (one line or `run: |` blocks) and of script lists."""
    commands, block_indent = [], None
    for line in yaml.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if block_indent is not None and stripped and indent >= block_indent:
            commands.append(stripped)
            continue
        block_indent = None
        if stripped == "run: |":
            block_indent = indent + 2
        elif stripped.startswith("run: "):
            commands.append(stripped[len("run: "):])
        elif stripped.startswith("- ") and "overfitcheck " in stripped:
            commands.append(stripped[2:])
    return [c for c in commands if "overfitcheck" in c and not c.startswith("pip install")]


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "repo"
    (project / "sample_data").mkdir(parents=True)
    for name in ("good_fit.csv", "overfit.csv"):
        shutil.copy(ROOT / "sample_data" / name, project / "sample_data")
    (project / "overfitcheck.toml").write_text(_block("toml", "[[datasets]]"))
    (project / ".git").mkdir()  # the repository root: the config search stops here
    return project


def _environment(tmp_path: Path) -> dict[str, str]:
    bin_folder = str(Path(sys.executable).parent)  # this environment's overfitcheck first
    return {**os.environ, "PATH": bin_folder + os.pathsep + os.environ["PATH"],
            "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary.md"),
            "GITHUB_BASE_REF": "main", "COLUMNS": "100"}


def _bash(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_github_actions_workflow_runs_as_written(tmp_path):
    workflow = _block("yaml", "runs-on:")
    commands = _commands(workflow)
    assert [c.split()[1] if c.startswith("overfitcheck") else c.split()[0] for c in commands] \
        == ["config", "diagnose", "(cd", "compare"]
    assert 'git worktree add base "origin/$GITHUB_BASE_REF"' in workflow
    project, env = _project(tmp_path), _environment(tmp_path)
    # `git worktree add base origin/main`: the base branch is this same checkout
    shutil.copytree(project, project / "base")
    results = {}
    for command in commands:
        results[command] = done = _bash(command, project, env)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    config, diagnose, base, compare = results.values()
    assert "sample_data/overfit.csv" in config.stdout and "overfitcheck.toml" in config.stdout

    summary = (tmp_path / "step_summary.md").read_text()
    assert summary.startswith("# overfitcheck summary")
    assert summary.count("\n## ") == 2 and "\n## overfit: overfitting\n" in summary
    out = project / "overfitcheck-report"
    assert (out / "summary.md").read_text().count("](overfit/summary.png)") == 1
    assert (out / "overfit" / "summary.png").is_file()

    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    suites = list(xml) if isinstance(xml, JUnitXml) else [xml]
    cases = {case.name: case for suite in suites for case in suite}
    assert sorted(cases) == ["good_fit", "overfit"]
    # overfit.csv overfits but its entry says fail-on = "never": the build passes
    assert all(case.is_passed for case in cases.values())
    assert not any(isinstance(r, Failure) for c in cases.values() for r in c.result)
    assert json.loads((out / "overfit" / "report.json").read_text())["verdict"] == "overfitting"

    assert sorted(p.name for p in (project / "base-report").iterdir()) == ["good_fit", "overfit"]
    assert compare.stdout.count("OK: no change beyond fold noise.") == 2


def test_gitlab_job_runs_as_written(tmp_path):
    job = _block("yaml", "artifacts:")
    assert "junit: overfitcheck-report/junit.xml" in job
    commands = _commands(job)
    assert [c.split()[1] for c in commands] == ["config", "diagnose", "report"]
    project, env = _project(tmp_path), _environment(tmp_path)
    for command in commands:
        done = _bash(command, project, env)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    out = project / "overfitcheck-report"
    batch = json.loads((out / "summary.json").read_text())
    assert [(d["name"], d["verdict"], d["status"]) for d in batch["datasets"]] == [
        ("good_fit", "good_fit", "passed"), ("overfit", "overfitting", "passed")]
    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    suites = list(xml) if isinstance(xml, JUnitXml) else [xml]
    assert sum(s.tests for s in suites) == 2 and sum(s.failures for s in suites) == 0
    comment = (out / "comment.md").read_text()
    assert comment.startswith("# overfitcheck summary") and "## overfit: " in comment
