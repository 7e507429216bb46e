"""The config file: find overfitcheck.toml (or pyproject's [tool.overfitcheck]), check it, and
resolve each option as command line > dataset entry > file defaults > built-in default."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .config import FAIL_ON, Config
from .errors import ConfigProblem, UsageProblem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (pyproject declares tomli there)
    import tomli as tomllib

CONFIG_FILE = "overfitcheck.toml"
PYPROJECT = "pyproject.toml"
TABLE = "tool.overfitcheck"

# Options beyond Config's fields that a file may set, with their built-in defaults. They shape
# a run (where it writes, when it fails), not a diagnosis.
RUN_DEFAULTS: dict[str, Any] = {"fail_on": "never", "output_dir": "overfitcheck-report",
                                "no_plots": False, "fail_fast": False}
CONFIG_TYPES = {f.name: str(f.type) for f in fields(Config)}
CONFIG_DEFAULTS = {f.name: f.default for f in fields(Config)}
TOP_KEYS = {*CONFIG_TYPES, *RUN_DEFAULTS}
DATASET_KEYS = {*CONFIG_TYPES, "fail_on", "path", "name"}
RUN_TYPES = {"fail_on": "str", "output_dir": "str", "no_plots": "bool", "fail_fast": "bool",
             "path": "str", "name": "str"}
EXPECTED = {"int": "an integer", "int | None": "an integer", "float": "a number",
            "float | None": "a number", "str": "a string", "str | None": "a string",
            "bool": "true or false", "tuple[float, ...] | None": "a list of numbers"}
BUILT_IN = "default"
COMMAND_LINE = "command line"


@dataclass(frozen=True)
class DatasetEntry:
    """One [[datasets]] table: a file or glob (relative to the config file) and its overrides."""

    number: int  # 1-based position among the [[datasets]] tables, for messages
    path: str
    name: str | None
    values: dict[str, Any]  # option name (underscores) -> checked value
    source: str  # e.g. "overfitcheck.toml [[datasets]] #2"


@dataclass(frozen=True)
class ProjectConfig:
    """A checked config file: its defaults and its datasets."""

    file: Path
    defaults: dict[str, Any]  # option name (underscores) -> checked value
    datasets: tuple[DatasetEntry, ...]

    @property
    def folder(self) -> Path:
        """Dataset paths and output-dir in the file are relative to the file's folder."""
        return self.file.parent

    @property
    def source(self) -> str:
        return shown(self.file)


@dataclass(frozen=True)
class Resolved:
    """One dataset's options after every layer: values keyed by option name, and where each
    came from (default, the file, its [[datasets]] entry, or the command line)."""

    values: dict[str, Any]
    sources: dict[str, str]

    def config(self) -> Config:
        return Config(**{name: self.values[name] for name in CONFIG_TYPES})


def find_project_config(start: Path) -> Path | None:
    """The nearest overfitcheck.toml, or pyproject.toml with a [tool.overfitcheck] table, in
    `start` or a folder above it; the search stops at the repository root (a folder with .git)
    so a checkout never picks up a file from outside it."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject
        if (folder / ".git").exists():
            return None
    return None


def load_project_config(file: Path) -> ProjectConfig:
    """Read and check a config file: unknown keys and wrong types are ConfigProblem (exit 2)
    naming the file, the key and the expected type."""
    data = _read_toml(Path(file))
    file = Path(shown(file))  # for messages; kept absolute below
    where = ""
    if file.name == PYPROJECT:
        data = data.get("tool", {}).get("overfitcheck")
        if not isinstance(data, dict):
            raise ConfigProblem(f"{file} has no [{TABLE}] table",
                                f"add [{TABLE}] or give an {CONFIG_FILE}")
        where = f"[{TABLE}] "
    raw_datasets = data.get("datasets", [])
    if not isinstance(raw_datasets, list) or not all(isinstance(d, dict) for d in raw_datasets):
        raise ConfigProblem(f"{file}: {where}key 'datasets' must be a list of tables, not "
                            f"{_show(raw_datasets)}",
                            "write each dataset as a [[datasets]] table with path and target")
    top = {k: v for k, v in data.items() if k != "datasets"}
    defaults = _check(top, TOP_KEYS, file, where)
    _check_values(defaults, file, where)
    table = "[[tool.overfitcheck.datasets]]" if where else "[[datasets]]"
    entries = []
    for number, raw in enumerate(raw_datasets, start=1):
        at = f"{table} #{number} "
        values = _check(raw, DATASET_KEYS, file, at)
        if "path" not in values:
            raise ConfigProblem(f"{file}: {at}has no path",
                                "give path = a CSV file or a glob, relative to the config file")
        _check_values({**defaults, **values}, file, at)
        path, name = values.pop("path"), values.pop("name", None)
        entries.append(DatasetEntry(number, path, name, values, f"{file} {at.strip()}"))
    return ProjectConfig(Path(file).absolute(), defaults, tuple(entries))


def resolve(command_line: Mapping[str, Any], project: ProjectConfig | None = None,
            entry: DatasetEntry | None = None) -> Resolved:
    """Every option's value and source: command line > dataset entry > file > built-in."""
    values: dict[str, Any] = {**CONFIG_DEFAULTS, **RUN_DEFAULTS}
    sources = dict.fromkeys(values, BUILT_IN)
    layers: list[tuple[Mapping[str, Any], str]] = []
    if project is not None:
        layers.append((project.defaults, project.source))
    if entry is not None:
        layers.append((entry.values, entry.source))
    layers.append((command_line, COMMAND_LINE))
    for layer, source in layers:
        for name, value in layer.items():
            values[name] = value
            sources[name] = source
    if project is not None and sources["output_dir"] == project.source:
        values["output_dir"] = str(project.folder / values["output_dir"])
    return Resolved(values, sources)


def parse_alphas(text: str | None) -> tuple[float, ...] | None:
    """The command line's spelling of an alpha grid: "0.01,0.1,1" -> (0.01, 0.1, 1.0)."""
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise UsageProblem(f"--alphas {text!r} is not a list of numbers",
                           "write it as 0.01,0.1,1") from err


def shown(file: Path) -> str:
    """A config file as messages name it: relative to the current folder when inside it."""
    try:
        return str(Path(file).absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def _has_table(pyproject: Path) -> bool:
    text = pyproject.read_text(encoding="utf-8", errors="replace")
    if TABLE not in text:
        return False
    data = _read_toml(pyproject)
    return isinstance(data.get("tool", {}).get("overfitcheck"), dict)


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        with open(file, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as err:
        raise ConfigProblem(f"config file {file} does not exist",
                            "check the --config path") from err
    except OSError as err:
        raise ConfigProblem(f"cannot read config file {file} ({err.strerror or err})",
                            "check the --config path") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigProblem(f"{file} is not valid TOML ({err})",
                            "fix the syntax (see https://toml.io)") from err


def _check(raw: Mapping[str, Any], allowed: set[str], file: Path, where: str) -> dict[str, Any]:
    """Keys may be spelled like the long options (n-alphas) or like Config (n_alphas)."""
    checked: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in allowed:
            close = difflib.get_close_matches(name, sorted(allowed), n=1)
            hint = f" (did you mean '{close[0].replace('_', '-')}'?)" if close else ""
            raise ConfigProblem(f"{file}: {where}unknown key '{key}'{hint}",
                                "use the long option names of overfitcheck diagnose --help")
        if name in checked:
            raise ConfigProblem(f"{file}: {where}key '{key}' is given twice (also as "
                                f"'{spelled[name]}')", "keep one of them")
        spelled[name] = key
        checked[name] = _typed(value, CONFIG_TYPES.get(name) or RUN_TYPES[name], file, where,
                               key)
    return checked


def _typed(value: Any, kind: str, file: Path, where: str, key: str) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = {"int": isinstance(value, int) and not isinstance(value, bool), "float": number,
          "str": isinstance(value, str), "bool": isinstance(value, bool)}
    base = kind.removesuffix(" | None")
    if base == "tuple[float, ...]":
        if isinstance(value, str):  # the command line's spelling, "0.01,0.1,1"
            try:
                value = list(parse_alphas(value))
            except UsageProblem:
                value = None
        if isinstance(value, list) and all(isinstance(v, int | float)
                                           and not isinstance(v, bool) for v in value):
            return tuple(float(v) for v in value)
    elif ok[base]:
        return float(value) if base == "float" else value
    raise ConfigProblem(f"{file}: {where}key '{key}' must be {EXPECTED[kind]}, not "
                        f"{_show(value)}", f"write {key} = {_example(kind)}")


def _check_values(values: Mapping[str, Any], file: Path, where: str) -> None:
    """Values of the right type can still be impossible (cv = 1): Config says which."""
    fail_on = values.get("fail_on")
    if fail_on is not None and fail_on not in FAIL_ON:
        raise ConfigProblem(f"{file}: {where}key 'fail-on' must be one of {', '.join(FAIL_ON)}, "
                            f"not {fail_on!r}", 'write fail-on = "overfitting"')
    try:
        Config(**{k: v for k, v in values.items() if k in CONFIG_TYPES})
    except UsageProblem as problem:
        raise ConfigProblem(f"{file}: {where}{problem.message}",
                            "change the value in the config file") from problem


def _show(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    return f"{kind} ({value!r})" if not isinstance(value, dict | list) else kind


def _example(kind: str) -> str:
    return {"int": "5", "float": "0.1", "str": '"text"', "bool": "true",
            "tuple[float, ...]": "[0.01, 0.1, 1]"}[kind.removesuffix(" | None")]
