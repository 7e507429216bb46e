"""Report -> files: report.json and the PNGs, written together or not at all; summary files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputProblem
from .render_png import FILE_NAMES, DrawingProcess  # matplotlib loads when drawing
from .report import Report

REPORT_FILE = "report.json"


def write_outputs(report: Report, folder: Path, plots: bool = True, processes: int = 1,
                  drawing: DrawingProcess | None = None) -> list[Path]:
    """Write report.json (and the PNGs) into `folder`, creating it; return the written paths.

    Every file is rendered first and staged as a hidden temporary file in the folder; only when
    all are staged are they renamed into place, report.json last. A failure leaves neither a
    half-written file nor a mix of two runs' files that this run meant to replace. processes=2
    draws the PNGs in two processes (render_pngs); a DrawingProcess started earlier draws them
    instead (this process draws them if it fails). Without
    plots, the PNGs an earlier run left under our file names are removed, so the folder never
    pairs this report with another run's plots.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputProblem(f"--output-dir {folder} is a file, not a folder",
                            "give a folder path (it is created if missing)")
    files: dict[str, bytes] = {}
    if plots:
        drawn = drawing.pngs(report) if drawing is not None else None
        if drawn is None:
            from .render_png import render_pngs  # matplotlib is slow to import: when drawing

            drawn = render_pngs(report, processes)
        files.update(drawn)
    files[REPORT_FILE] = report.to_json().encode("utf-8")
    staged: list[tuple[Path, Path]] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            staged.append((_stage(folder / name, data), folder / name))
        if not plots:
            for name in FILE_NAMES.values():
                _remove_file(folder / name)
        for temporary, final in staged:
            os.replace(temporary, final)
        return [final for _, final in staged]
    except OSError as err:
        raise OutputProblem(f"cannot write to {folder} ({err.strerror or err})",
                            "choose a writable --output-dir") from err
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def write_summary(file: Path, text: str) -> None:
    """Write a summary file (--summary) whole or not at all."""
    file = Path(file)
    temporary = None
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        temporary = _stage(file, text.encode("utf-8"))
        os.replace(temporary, file)
    except OSError as err:
        raise OutputProblem(f"cannot write --summary {file} ({err.strerror or err})",
                            "choose a writable path") from err
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def _stage(final: Path, data: bytes) -> Path:
    """`data` in a hidden temporary file beside `final`, with the umask's permissions (not
    NamedTemporaryFile's 0600), ready to be renamed into place."""
    handle = tempfile.NamedTemporaryFile(dir=final.parent, prefix=f".{final.name}.",
                                         suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(data)
        os.chmod(handle.name, 0o666 & ~_umask())
    except OSError:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return Path(handle.name)


def _remove_file(path: Path) -> None:
    if path.is_file() or path.is_symlink():
        path.unlink()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
