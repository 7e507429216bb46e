"""The library's one entry point: CSV or DataFrame in, Report out (the CLI calls the same)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from . import forked
from .config import CLASSIFICATION_METRICS, REGRESSION_METRICS, Config
from .curves import learning_curves, learning_curves_gram, summarize
from .dataset import Dataset, load_dataset
from .errors import UsageProblem
from .grid import alpha_grids
from .metrics import LABELS
from .paths import (
    StartedWorkers,
    column_scaling,
    fit_paths,
    gram_suits,
    load_solvers,
)
from .paths_gram import alpha_grids_gram, fit_regression_paths_deferred, in_memory
from .report import Report
from .splits import LEARNING_FRACTIONS, level_of_rows, make_splits
from .stream import StreamedDataset, head_is_regression, stream_regression
from .verdict import FAMILY_NAMES, judge

Progress = Callable[[str, int, int], None]


def diagnose(source: str | os.PathLike[str] | pd.DataFrame, target: str | None = None, *,
             config: Config | None = None, progress: Progress | None = None,
             **options: Any) -> Report:
    """Diagnose whether linear models overfit `source` when predicting `target`.

    Give either a Config or the target plus any Config field as a keyword, e.g.
    ``diagnose("data.csv", target="churn", cv=10)``. `progress(stage, done, total)` is called
    as fits finish. A DataFrame is never modified.
    """
    if config is None:
        if target is None:
            raise UsageProblem("no target column given", "pass target='column name'")
        config = Config(target=target, **options)
    elif target is not None or options:
        config = replace(config, **({"target": target} if target else {}), **options)
    report = progress or (lambda stage, done, total: None)
    workers: list[StartedWorkers] = []
    try:
        return _diagnose(source, config, report, progress, _streamable(source, config), workers)
    except BaseException:
        for started in workers:  # still starting (or idle): nothing to wait for
            started.cancel()
        raise


def _diagnose(source, config: Config, report: Progress, progress: Progress | None,
              streamable: bool, workers: list[StartedWorkers]) -> Report:
    # The solvers take about a second to import: on a thread, while the file is read (the
    # parser releases the GIL), unless the file streams as a regression or starts with a
    # regression target, whose fits need them only where the lasso's homotopy falls back
    # (paths_gram._lasso_gram, which imports them then). Imported on a thread, they are
    # waited for before the fits, which import more.
    preload = threading.Thread(target=load_solvers, name="load solvers", daemon=True)
    classes: list[bool] = []  # the stream found a class target

    def preload_unless_regression() -> None:
        if classes or isinstance(source, pd.DataFrame) or \
                not head_is_regression(source, config):
            preload.start()

    if not streamable:
        preload_unless_regression()
    report("reading", 0, 1)
    dataset: Dataset | StreamedDataset | None = None

    def class_target() -> None:
        # Class targets are fitted on several processes (_jobs). Where they are joblib's (not
        # forked copies of this one, see forked.py), they start while the file is read whole,
        # and are ready for the first fold instead of 2 s after it is sent.
        classes.append(True)
        if config.jobs != 1 and (os.cpu_count() or 1) > 1 and not forked.usable():
            workers.append(StartedWorkers(config.jobs))

    if streamable:
        with threadpool_limits(1):  # see paths._fit_fold: one BLAS thread is many times faster
            dataset = stream_regression(source, config, progress, class_target)
    if dataset is None:
        if streamable:  # not streamed after all (a small file, or classes)
            preload_unless_regression()
        dataset = load_dataset(source, config)
        if preload.ident is not None or dataset.task != "regression":
            load_solvers()  # the thread's import done (or done here) before the fits import more
    metric = _metric(config.metric, dataset.task)
    total = config.cv + 1
    learning_total = config.cv * len(LEARNING_FRACTIONS)
    done = [0]
    counting = threading.Lock()  # fits finish on several threads

    def tick(stage: str, total: int):
        def step():
            with counting:
                done[0] += 1
                report(stage, done[0], total)
        return step

    report("fitting paths", 0, total)  # the file is read

    with threadpool_limits(1):
        data, fold_definition, notes = None, None, dataset.notes
        if isinstance(dataset, StreamedDataset):
            data, fold_definition = dataset.data, dataset.fold_definition
        else:
            splits = make_splits(dataset, config)
            fold_definition, notes = splits.definition, dataset.notes + splits.notes
            if dataset.task == "regression" and gram_suits(
                    dataset.n_features + int(np.isnan(dataset.X).any(axis=0).sum()),
                    min(f.train.size for f in splits.folds),
                    splits.n_splits * len(LEARNING_FRACTIONS)):
                # Sufficient statistics: one pass over the rows serves every fold and subset.
                data = in_memory(dataset.X, dataset.y, splits.folds,
                                 level_of_rows(0, dataset.n_rows, config.seed))
        if data is not None:
            grids = alpha_grids_gram(data, config)
            all_grids = {"baseline": np.array([0.0]), "none": np.array([0.0]), **grids}
            paths, absolute_errors = fit_regression_paths_deferred(
                data, all_grids, on_fit_done=tick("fitting paths", total))
            # The MAE pass (over the rows) runs beside the learning curves (from the sums),
            # unless the MAE is the metric that chooses their alphas, or one core is all this
            # diagnosis may use (--jobs 1, as batch workers running datasets in parallel).
            beside = metric != "mae" and config.jobs != 1 and (os.cpu_count() or 1) > 1
            stop = threading.Event()  # a failure or Ctrl-C here ends the pass at its next block
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mae") as side:
                try:
                    mae = side.submit(absolute_errors, stop) if beside else None
                    if mae is None:
                        absolute_errors()
                    curves = {p: summarize(path, metric) for p, path in paths.items()
                              if p != "baseline"}
                    done[0] = 0
                    learning = learning_curves_gram(
                        data, curves, metric, on_fit_done=tick("learning curves", learning_total))
                    if mae is not None:
                        mae.result()
                except BaseException:
                    stop.set()
                    raise
            baseline = summarize(paths.pop("baseline"), metric)
            curves = {p: summarize(path, metric) for p, path in paths.items()}  # with the MAE
            train_sizes = [int(v) for v in data.train @ data.stats.count]
            validation_sizes = [int(v) for v in data.validation @ data.stats.count]
    if data is None:
        # Every row's standardization, for the grid's Gram and the binary learning curves'
        # starts (0.3 s on 200,000 x 132): made once.
        scaling = column_scaling(dataset.X) if dataset.n_rows >= dataset.n_features and (
            config.alphas is None or dataset.task == "binary") else None
        grids = alpha_grids(dataset, config, scaling)
        all_grids = {"baseline": np.array([0.0]), "none": np.array([0.0]), **grids}
        jobs = _jobs(config.jobs, dataset.X.size, dataset.task)
        for started in workers:
            started.ready()
        workers.clear()  # fitting: from here on, fit_paths' own handling of errors and Ctrl-C
        paths = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds,
                          all_grids, jobs=jobs, on_fit_done=tick("fitting paths", total))
        baseline = summarize(paths.pop("baseline"), metric)
        curves = {p: summarize(path, metric) for p, path in paths.items()}
        done[0] = 0
        learning = learning_curves(dataset, splits, curves, metric, config.seed, jobs=jobs,
                                   on_fit_done=tick("learning curves", learning_total),
                                   scaling=scaling)
        train_sizes = [int(f.train.size) for f in splits.folds]
        validation_sizes = [int(f.validation.size) for f in splits.folds]
    verdict = judge(curves, baseline, learning, config, LABELS[metric], dataset.task,
                    dataset.n_features, min(train_sizes))
    warnings = []
    for penalty, curve in curves.items():
        if _edge_matters(curve, curves["none"], config):
            warnings.append(f"{FAMILY_NAMES[penalty]}: the best alpha is the {curve.at_edge} of "
                            "the grid; widen it with --alpha-min / --alpha-max")
        failed = int(curve.not_converged.sum())
        if failed:
            at = int((curve.not_converged > 0).sum())
            warnings.append(f"{FAMILY_NAMES[penalty]}: {failed} fit{'s' * (failed != 1)} stopped "
                            f"before converging (at {at} alpha{'s' * (at != 1)})"
                            + (": the classes are separable, so the unpenalized coefficients "
                               "diverge - overfitting by construction" if penalty == "none"
                               and dataset.task != "regression" else ""))
    return Report(
        task=dataset.task, target=dataset.target, metric=metric, classes=dataset.classes,
        n_rows=dataset.n_rows, n_features=dataset.n_features, n_rows_read=dataset.n_rows_read,
        n_rows_dropped=dataset.n_rows_dropped, input_path=dataset.path,
        input_sha256=dataset.sha256, columns=dataset.columns,
        feature_names=dataset.feature_names,
        folds={**fold_definition, "train_sizes": train_sizes,
               "validation_sizes": validation_sizes},
        config=config, baseline=baseline, curves=curves, learning=learning, verdict=verdict,
        notes=tuple(notes), warnings=tuple(warnings))


def _streamable(source, config: Config) -> bool:
    """A CSV path whose folds the stream can make (not grouped, time-ordered or sampled)."""
    return not isinstance(source, pd.DataFrame) and config.group_col is None \
        and config.time_col is None and config.max_rows is None and config.chunk_rows != 0


def _edge_matters(curve, none, config: Config) -> bool:
    """Is an edge choice worth a warning? The derived grid's large end already zeroes (L1) or
    shrinks to 1% (L2) every coefficient, so there only a user-set grid can be too narrow; at
    the small end, only if the unregularized model (the alpha -> 0 limit, also fitted)
    validates better by more than one SE."""
    if curve.at_edge == "largest":
        return config.alphas is not None or config.alpha_max is not None
    if curve.at_edge != "smallest":
        return False
    i = curve.index_min
    return bool(none.validation_mean[0] < curve.validation_mean[i] - curve.validation_se[i])


# Starting joblib's worker processes costs seconds (each imports scikit-learn; forked copies,
# on Linux, far less). Iterative logistic fits always repay it (measured on 2 cores with
# joblib's: telco churn 15 s -> 11 s, khan 76 s -> 42 s); exact least-squares paths only from
# about a million design cells.
PARALLEL_MIN_CELLS = 1_000_000


def _jobs(jobs: int, cells: int, task: str) -> int:
    if jobs != -1:
        return jobs
    worth_it = task != "regression" or cells >= PARALLEL_MIN_CELLS
    return -1 if worth_it and (os.cpu_count() or 1) > 1 else 1


def _metric(metric: str | None, task: str) -> str:
    if metric is None:
        return "rmse" if task == "regression" else "log_loss"
    allowed = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    if task == "multiclass":
        allowed = tuple(m for m in allowed if m != "roc_auc")
    if metric not in allowed:
        raise UsageProblem(f"--metric {metric} does not apply to a {task} target",
                           f"use one of {', '.join(allowed)}")
    return metric
