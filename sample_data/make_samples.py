"""Writes the generated sample CSVs, one per verdict, with fixed seeds: `python make_samples.py`.

- overfit.csv    regression, 150 rows x 100 features, 5 of which matter: least squares
                 memorizes the noise, the lasso finds the signal.
- good_fit.csv   regression, 3,000 rows x 8 features, a linear signal plus noise: every model
                 fits, with a small train/validation gap.
- no_signal.csv  binary, 600 rows x 12 features, labels independent of the features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def overfit(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, p = 150, 100
    X = rng.normal(size=(n, p))
    y = X[:, :5] @ np.array([3.0, -2.0, 2.0, 1.5, -1.0]) + rng.normal(scale=2.0, size=n)
    frame = pd.DataFrame(X.round(4), columns=[f"x{j:03d}" for j in range(p)])
    frame["y"] = y.round(4)
    return frame


def good_fit(seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    frame = pd.DataFrame({
        "size_m2": rng.uniform(30, 200, n).round(1),
        "rooms": rng.integers(1, 7, n),
        "age_years": rng.uniform(0, 80, n).round(0),
        "distance_km": rng.exponential(8, n).round(2),
        "floor": rng.integers(0, 12, n),
        "garden": rng.choice(["yes", "no"], n),
        "district": rng.choice(["north", "south", "east", "west", "centre"], n),
        "noise_feature": rng.normal(size=n).round(3),
    })
    district = frame["district"].map({"north": 10, "south": -5, "east": 0, "west": 5,
                                      "centre": 30})
    price = (2.5 * frame["size_m2"] + 8 * frame["rooms"] - 0.6 * frame["age_years"]
             - 3 * frame["distance_km"] + 15 * (frame["garden"] == "yes") + district
             + rng.normal(scale=25, size=n))
    frame["price_k"] = price.round(1)
    missing = rng.random(n) < 0.03
    frame.loc[missing, "age_years"] = np.nan
    return frame


def no_signal(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, p = 600, 12
    frame = pd.DataFrame(rng.normal(size=(n, p)).round(4), columns=[f"f{j}" for j in range(p)])
    frame["clicked"] = rng.choice(["no", "yes"], n, p=[0.6, 0.4])
    return frame


def main() -> None:
    for name, make in (("overfit", overfit), ("good_fit", good_fit), ("no_signal", no_signal)):
        make().to_csv(HERE / f"{name}.csv", index=False)


if __name__ == "__main__":
    main()
