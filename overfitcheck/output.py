"""Report -> files: report.json and the PNGs, written together or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputProblem
from .report import Report

REPORT_FILE = "report.json"


def write_outputs(report: Report, folder: Path, plots: bool = True) -> list[Path]:
    """Write report.json (and the PNGs) into `folder`, creating it; return the written paths.

    Every file is rendered first and staged as a hidden temporary file in the folder; only when
    all are staged are they renamed into place, report.json last. A failure leaves neither a
    half-written file nor a mix of two runs' files that this run meant to replace.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputProblem(f"--output-dir {folder} is a file, not a folder",
                            "give a folder path (it is created if missing)")
    files: dict[str, bytes] = {}
    if plots:
        from .render_png import render_pngs  # matplotlib is slow to import: only when drawing

        files.update(render_pngs(report))
    files[REPORT_FILE] = report.to_json().encode("utf-8")
    staged: list[tuple[Path, Path]] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        mode = 0o666 & ~_umask()
        for name, data in files.items():
            handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", suffix=".tmp",
                                                 delete=False)
            staged.append((Path(handle.name), folder / name))
            with handle:
                handle.write(data)
            os.chmod(handle.name, mode)  # NamedTemporaryFile makes 0600: honour the umask
        for temporary, final in staged:
            os.replace(temporary, final)
        return [final for _, final in staged]
    except OSError as err:
        raise OutputProblem(f"cannot write to {folder} ({err.strerror or err})",
                            "choose a writable --output-dir") from err
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
