"""Loading a saved report.json: the exact Report back, so every renderer works without refitting."""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from overfitcheck import diagnose
from overfitcheck.errors import BadReport, ExitCode
from overfitcheck.output import write_outputs
from overfitcheck.render_png import FILE_NAMES, render_pngs
from overfitcheck.render_terminal import render_terminal
from overfitcheck.report import SCHEMA_VERSION, Report, load_report

DATA = Path(__file__).parent / "data"
# Keys added so that a report can be rebuilt exactly; a report written before them still loads.
NEW_PATH_KEYS = ("train_error_se", "gap_se", "index_min", "index_1se", "coef")


def _saved(report: Report, folder: Path) -> Path:
    write_outputs(report, folder, plots=False)
    return folder / "report.json"


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    report = diagnose(DATA / "diabetes.csv", target="target", n_alphas=8, jobs=1)
    return report, _saved(report, tmp_path_factory.mktemp("regression"))


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory):
    # Categoricals, missing values and three classes: coefficients with one row per class.
    report = diagnose(DATA / "penguins.csv", target="species", n_alphas=8, jobs=1)
    return report, _saved(report, tmp_path_factory.mktemp("multiclass"))


@pytest.fixture(params=["regression", "multiclass"])
def saved(request):
    return request.getfixturevalue(request.param)


def render(report: Report, width: int = 100) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, force_terminal=False)
    console.print(render_terminal(report))
    return console.file.getvalue()


def assert_same(a, b, where: str = "report") -> None:
    """Field by field, arrays by value and dtype (NaN equal to NaN), floats exactly."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, tuple | list):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def test_round_trip_is_byte_identical(saved):
    _, path = saved
    assert load_report(path).to_json() == path.read_text(encoding="utf-8")


def test_loaded_report_is_the_report_that_was_written(saved):
    report, path = saved
    loaded = load_report(path)
    environment = {"versions": loaded.versions, "tool_version": loaded.tool_version}
    assert environment["versions"] == json.loads(path.read_text())["versions"]
    assert_same(dataclasses.replace(report, **environment), loaded)


def test_loaded_report_renders_the_same_terminal_text(saved):
    report, path = saved
    loaded = load_report(path)
    for width in (100, 80):
        assert render(loaded, width) == render(report, width)
    assert "not recorded" not in render(loaded)  # the coefficients came back


def test_every_png_renders_from_the_loaded_report_as_from_the_original(saved):
    report, path = saved
    pngs = render_pngs(load_report(path))
    assert sorted(pngs) == sorted(FILE_NAMES.values())
    assert pngs == render_pngs(report)  # byte for byte: the same figures were drawn
    for data in pngs.values():
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.size[0] >= 600 and image.size[1] >= 400


def test_versions_are_the_files_not_the_environments(regression, tmp_path):
    _, path = regression
    data = json.loads(path.read_text())
    data["tool"]["version"] = "0.0.1-old"
    data["versions"] = {"python": "3.0.0", "numpy": "1.0"}
    old = tmp_path / "report.json"
    old.write_text(json.dumps(data))
    loaded = load_report(old)
    again = json.loads(loaded.to_json())
    assert again["tool"] == {"name": "overfitcheck", "version": "0.0.1-old"}
    assert again["versions"] == {"python": "3.0.0", "numpy": "1.0"}
    assert again == data  # every other key unchanged as well


def test_nulls_come_back_as_nan_and_an_infinite_gap_ratio_as_inf(regression, tmp_path):
    _, path = regression
    data = json.loads(path.read_text())
    data["paths"]["l2"]["validation_error"][2][1] = None  # a fold undefined at one alpha
    data["paths"]["l2"]["validation_error_mean"][2] = None
    data["baseline"]["validation_error"] = 0.0  # gap / 0 was inf, written as null
    data["baseline"]["path"]["validation_error_mean"] = [0.0]
    for model in data["models"]:
        model["gap_relative"] = None
    changed = tmp_path / "report.json"
    changed.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    loaded = load_report(changed)
    curve = loaded.curves["l2"]
    assert math.isnan(curve.validation_folds[2, 1]) and math.isnan(curve.validation_mean[2])
    assert np.isfinite(np.delete(curve.validation_folds.ravel(), 2 * 5 + 1)).all()
    assert all(fv.gap_relative == math.inf for fv in loaded.verdict.families)
    assert json.loads(loaded.to_json()) == data
    assert "—" in render(loaded)  # the gap / base column of an infinite ratio


def test_a_report_written_before_the_rebuild_keys_still_loads(regression, tmp_path):
    """Same schema_version, without coef, feature_names and the SEs: what can be recomputed is,
    the coefficients are "not recorded"."""
    report, path = regression
    data = json.loads(path.read_text())
    del data["feature_names"], data["baseline"]["path"]
    for curve in data["paths"].values():
        for key in NEW_PATH_KEYS:
            del curve[key]
    old = tmp_path / "report.json"
    old.write_text(json.dumps(data))
    loaded = load_report(old)
    for penalty, curve in report.curves.items():
        again = loaded.curves[penalty]
        assert again.coef is None
        np.testing.assert_array_equal(again.train_se, curve.train_se)
        np.testing.assert_array_equal(again.gap_se, curve.gap_se)
        assert (again.index_min, again.index_1se) == (curve.index_min, curve.index_1se)
    assert loaded.feature_names == report.feature_names  # every column's features, in order
    assert loaded.baseline.validation_mean[0] == report.baseline.validation_mean[0]
    text = render(loaded)
    assert "Largest coefficients: L1 (lasso) at alpha" in text and ": not recorded." in text
    assert render_pngs(loaded)["coefficient_path_l1.png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_from_dict_reads_to_dict(regression):
    report, _ = regression
    assert Report.from_dict(report.to_dict()).to_json() == report.to_json()


def _bad(path: Path) -> str:
    with pytest.raises(BadReport) as caught:
        load_report(path)
    assert caught.value.exit_code == ExitCode.BAD_DATA
    line = caught.value.one_line()
    assert "\n" not in line
    return line


FIX = "Fix: give the report.json that overfitcheck diagnose wrote"


def test_a_missing_file_is_a_bad_report(tmp_path):
    path = tmp_path / "nope.json"
    assert _bad(path) == f"report {path} does not exist. {FIX}"


def test_a_folder_is_a_bad_report_pointing_at_its_report(regression, tmp_path):
    _, path = regression
    assert _bad(path.parent) == (f"{path.parent} is a folder, not a report file. Fix: give "
                                 f"{path}")
    assert _bad(tmp_path) == f"{tmp_path} is a folder, not a report file. {FIX}"


def test_not_json_is_a_bad_report(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("a,b\n1,2\n")
    assert _bad(path) == (f"{path} is not a report: it is not JSON (Expecting value at line 1, "
                          f"column 1). {FIX}")
    path.write_bytes(b"\xff\xfe{}")
    assert _bad(path) == f"{path} is not a report: it is not UTF-8 text. {FIX}"


@pytest.mark.parametrize("content", ['[1, 2]', '{"schema_version": 1}',
                                     '{"tool": {"name": "pytest"}, "schema_version": 1}'])
def test_json_of_another_shape_is_a_bad_report(tmp_path, content):
    path = tmp_path / "report.json"
    path.write_text(content)
    assert _bad(path) == (f'{path} is not an overfitcheck report (it lacks "tool": {{"name": '
                          f'"overfitcheck"}}). {FIX}')


def test_a_future_schema_version_is_a_bad_report(regression, tmp_path):
    _, saved = regression
    data = json.loads(saved.read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    assert _bad(path) == (f"{path} has schema_version {SCHEMA_VERSION + 1}, newer than the "
                          f"{SCHEMA_VERSION} this overfitcheck reads. Fix: upgrade overfitcheck "
                          "(pip install -U overfitcheck) to read it")
    data["schema_version"] = "1"
    path.write_text(json.dumps(data))
    assert _bad(path) == (f"{path} has an unsupported schema_version '1'. Fix: give a report of "
                          f"schema_version 1 to {SCHEMA_VERSION}")


def test_an_incomplete_or_malformed_report_is_a_bad_report(regression, tmp_path):
    _, saved = regression
    data = json.loads(saved.read_text())
    del data["models"]
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    rerun = "Fix: rerun overfitcheck diagnose to write it again"
    assert _bad(path) == f"{path} is an incomplete overfitcheck report (no key 'models'). {rerun}"
    data = json.loads(saved.read_text())
    data["paths"]["l1"]["train_error"] = "lots"
    path.write_text(json.dumps(data))
    assert _bad(path) == (f"{path} is a malformed overfitcheck report (expected numbers, found "
                          f"<U4 values). {rerun}")
    data = json.loads(saved.read_text())
    data["config"]["cv"] = 1
    path.write_text(json.dumps(data))
    assert _bad(path) == (f"{path} holds a report this version cannot rebuild (--cv must be at "
                          f"least 2, not 1). {rerun}")
