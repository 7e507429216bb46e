"""Two reports (or two batch folders) -> comparison: did validation error, the gap or the verdict
get worse beyond noise?

Each report holds, per family at its chosen alpha, the mean validation error over the folds and
its standard error (fold sd / sqrt(k)), and the gap (validation - training) with the standard
error of the per-fold gaps. Two reports come from separate cross-validations (other rows, other
code), so their fold errors are not paired: the standard error of a difference is
sqrt(se_base^2 + se_new^2), and a number got worse when it grew by more than noise_se of those.
That is conservative when both runs share their folds (the paired SE would be smaller), and it
never mistakes a rerun's fold-to-fold noise for a change.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import OverfitcheckError, ReportsNotComparable, UsageProblem
from .output import REPORT_FILE
from .report import Report, _clean, load_report
from .verdict import FAMILY_NAMES, FamilyVerdict

# Verdicts that name a problem: a report moves to a worse verdict when the new one is a problem
# the base did not have (good_fit or inconclusive -> overfitting, overfitting -> underfitting).
# good_fit <-> inconclusive is fold noise about the margin, not a regression.
PROBLEMS = ("overfitting", "underfitting")
CHECKS = {"validation_error": "validation error", "gap": "gap (validation - training)",
          "verdict": "verdict"}


@dataclass(frozen=True)
class Finding:
    """One number (or verdict) of one model, in both reports, and whether it got worse."""

    check: str  # "validation_error", "gap" or "verdict"
    model: str  # "recommended", a family ("none", "l1", "l2") or "overall" (the verdict)
    base: float | str
    new: float | str
    se: float | None  # standard error of new - base; None for verdicts
    change: str  # "worse", "better", "same" (within noise) or "changed" (verdicts only)
    base_model: str | None = None  # the recommended family of each report, for "recommended"
    new_model: str | None = None

    @property
    def difference(self) -> float | None:
        if isinstance(self.base, str) or isinstance(self.new, str):
            return None
        return self.new - self.base


@dataclass(frozen=True)
class Comparison:
    """Every check of base against new; `worse` when any of them got worse beyond noise."""

    worse: bool
    findings: tuple[Finding, ...]
    noise_se: float
    task: str
    target: str
    metric: str
    metric_label: str
    base_input: str | None
    new_input: str | None

    @property
    def regressions(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.change == "worse")

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-ready data (NaN becomes null, as in report.json)."""
        return _clean({
            "worse": self.worse,
            "noise_se": self.noise_se,
            "task": self.task,
            "target": self.target,
            "metric": self.metric,
            "metric_label": self.metric_label,
            "metric_direction": "lower is better",
            "base_input": self.base_input,
            "new_input": self.new_input,
            "findings": [{**asdict(f), "difference": f.difference} for f in self.findings],
        })


def compare_reports(base: Report, new: Report, noise_se: float = 1.0) -> Comparison:
    """Whether `new` validates worse, overfits more or gets a worse verdict than `base`.

    Checks, each at noise_se standard errors of the difference: the recommended model's
    validation error and gap (the recommended family may differ between the two), the same for
    every family both reports fitted, and the overall verdict. A number that is undefined (NaN)
    in either report is left out. Reports of another task, target or metric measure different
    things: ReportsNotComparable, a usage error (exit 2), since the caller gave the wrong pair.
    """
    if not math.isfinite(noise_se) or noise_se < 0:
        raise UsageProblem(f"noise_se must be a finite number >= 0, not {noise_se}",
                           "use e.g. 1 (one standard error) or 2")
    for what, a, b in (("task", base.task, new.task), ("target", base.target, new.target),
                       ("metric", base.metric, new.metric)):
        if a != b:
            raise ReportsNotComparable(
                f"the reports have different {what}s ({a!r} in base, {b!r} in new), so their "
                "errors measure different things",
                f"compare two reports of the same {what}")
    findings: list[Finding] = []
    findings.append(_verdict_finding(base.verdict.overall, new.verdict.overall))
    b_best, n_best = _family(base, base.verdict.best), _family(new, new.verdict.best)
    findings += _number_findings("recommended", b_best, n_best, noise_se)
    new_families = {fv.penalty: fv for fv in new.verdict.families}
    for fv in base.verdict.families:
        if fv.penalty in new_families:
            findings += _number_findings(fv.penalty, fv, new_families[fv.penalty], noise_se)
    return Comparison(any(f.change == "worse" for f in findings), tuple(findings), noise_se,
                      new.task, new.target, new.metric, new.metric_label, base.input_path,
                      new.input_path)


@dataclass(frozen=True)
class RunComparison:
    """Two runs compared: one pair of reports, or two batch output folders dataset by dataset
    (matched by subfolder name; the ones found on one side only are listed, not compared)."""

    batch: bool
    datasets: tuple[tuple[str, Comparison], ...]
    only_in_base: tuple[str, ...] = ()
    only_in_new: tuple[str, ...] = ()

    @property
    def worse(self) -> bool:
        return any(c.worse for _, c in self.datasets)

    def to_dict(self) -> dict[str, Any]:
        """One pair: the Comparison's dict; two batch folders: each dataset's, by name."""
        if not self.batch:
            return self.datasets[0][1].to_dict()
        return {"worse": self.worse,
                "datasets": [{"name": name, **c.to_dict()} for name, c in self.datasets],
                "only_in_base": list(self.only_in_base), "only_in_new": list(self.only_in_new)}


def compare_runs(base: Path, new: Path, noise_se: float = 1.0) -> RunComparison:
    """Compare two report.json files (or folders holding one), or two batch output folders
    dataset by dataset. A problem with one dataset's pair names the dataset."""
    from .batch import find_reports  # the batch's folder layout

    base, new = Path(base), Path(new)
    if not _is_batch(base) and not _is_batch(new):
        pair = compare_reports(load_report(_one_report(base)), load_report(_one_report(new)),
                               noise_se=noise_se)
        return RunComparison(False, (("", pair),))
    if not (_is_batch(base) and _is_batch(new)):
        one, batch = (base, new) if _is_batch(new) else (new, base)
        raise UsageProblem(f"{batch} is a batch output folder and {one} a single report",
                           "compare two report.json files, or two batch output folders")
    base_files = {f.parent.name: f for f in find_reports(base)}
    new_files = {f.parent.name: f for f in find_reports(new)}
    names = sorted(set(base_files) & set(new_files))
    if not names:
        raise UsageProblem(f"{base} and {new} share no dataset subfolder",
                           "compare the output folders of two runs over the same datasets")
    datasets = []
    for name in names:
        try:
            datasets.append((name, compare_reports(load_report(base_files[name]),
                                                   load_report(new_files[name]),
                                                   noise_se=noise_se)))
        except OverfitcheckError as problem:
            raise type(problem)(f"{name}: {problem.message}", problem.hint) from problem
    return RunComparison(True, tuple(datasets), tuple(sorted(set(base_files) - set(new_files))),
                         tuple(sorted(set(new_files) - set(base_files))))


def render_run_comparison(runs: RunComparison) -> str:
    """Plain text: one pair as render_comparison; batch folders, each dataset under its name,
    the datasets found on one side only, and a last line saying which got worse."""
    if not runs.batch:
        return render_comparison(runs.datasets[0][1])
    blocks = [f"{name}:\n{render_comparison(c)}" for name, c in runs.datasets]
    blocks += [f"{name}: only in the base folder, not compared\n" for name in runs.only_in_base]
    blocks += [f"{name}: only in the new folder, not compared\n" for name in runs.only_in_new]
    worse = [name for name, c in runs.datasets if c.worse]
    compared = f"{len(runs.datasets)} dataset{'s' if len(runs.datasets) != 1 else ''} compared"
    last = (f"WORSE: {', '.join(worse)} ({len(worse)} of {compared})" if worse
            else f"OK: {compared}, none worse beyond fold noise")
    return "".join(blocks) + last + "\n"


def render_comparison(comparison: Comparison) -> str:
    """Plain text lines: what got worse (or that nothing did), with base -> new ± SE."""
    c = comparison
    z = f"{c.noise_se:g} SE" if c.noise_se != 1 else "1 SE"
    lines = [f"Comparing {c.metric_label} (lower is better) of {c.target!r} ({c.task}); "
             f"a change counts beyond {z} of fold noise, SE = sqrt(SE_base² + SE_new²)."]
    worse = c.regressions
    if worse:
        lines.append(f"WORSE: {len(worse)} of {len(c.findings)} checks got worse beyond fold "
                     "noise.")
    else:
        lines.append("OK: no change beyond fold noise.")
    width = max(len(_model_name(f)) for f in c.findings)
    for f in c.findings:
        lines.append(f"  {f.change:<7}  {_model_name(f):<{width}}  {_describe(f, c.noise_se)}")
    return "\n".join(lines) + "\n"


def _is_batch(given: Path) -> bool:
    """A folder without a report.json of its own: a batch's output folder."""
    return given.is_dir() and not (given / REPORT_FILE).is_file()


def _one_report(given: Path) -> Path:
    return given / REPORT_FILE if given.is_dir() else given


def _family(report: Report, penalty: str) -> FamilyVerdict:
    return next(fv for fv in report.verdict.families if fv.penalty == penalty)


def _verdict_finding(base: str, new: str) -> Finding:
    if base == new:
        change = "same"
    elif new in PROBLEMS:
        change = "worse"
    elif base in PROBLEMS:
        change = "better"
    else:
        change = "changed"
    return Finding("verdict", "overall", base, new, None, change)


def _number_findings(model: str, base: FamilyVerdict, new: FamilyVerdict, z: float
                     ) -> list[Finding]:
    out = []
    names = (base.penalty, new.penalty) if model == "recommended" else (None, None)
    for check, a, a_se, b, b_se in (
            ("validation_error", base.validation_error, base.validation_error_se,
             new.validation_error, new.validation_error_se),
            ("gap", base.gap, base.gap_se, new.gap, new.gap_se)):
        if not all(math.isfinite(x) for x in (a, a_se, b, b_se)):
            continue
        se = math.sqrt(a_se ** 2 + b_se ** 2)
        difference = b - a
        if difference > z * se and difference > 0:
            change = "worse"
        elif difference < -z * se and difference < 0:
            change = "better"
        else:
            change = "same"
        out.append(Finding(check, model, a, b, se, change, *names))
    return out


def _model_name(f: Finding) -> str:
    if f.model == "overall":
        return "overall"
    if f.model == "recommended":
        a, b = FAMILY_NAMES[f.base_model], FAMILY_NAMES[f.new_model]
        return f"recommended ({a})" if a == b else f"recommended ({a} → {b})"
    return FAMILY_NAMES.get(f.model, f.model)


def _describe(f: Finding, z: float) -> str:
    what = CHECKS[f.check]
    if f.check == "verdict":
        return f"{what}: {f.base} → {f.new}"
    difference = f.new - f.base
    text = (f"{what}: {_num(f.base)} → {_num(f.new)} ({'+' if difference >= 0 else ''}"
            f"{_num(difference)} ± {_num(f.se)}")
    if f.change == "worse":
        text += f", more than {_num(z * f.se)}"
    return text + ")"


def _num(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    return f"{x:.4g}"
