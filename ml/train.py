"""Purchase-prediction baseline for the leak-free training set of `npm run dataset -- purchase`.

Reads the dataset (an MLTable folder, or the folder's Parquet file when the `mltable` package is absent), keeps
one entity ("customer" or "order" rows), splits by observation time (the latest fraction of observation times
is the validation set, so no row of the validation period trains the model), fits scikit-learn's
HistGradientBoostingClassifier on the feature columns and reports ROC-AUC and PR-AUC (average precision)
against the base rate of the validation set (the PR-AUC of a classifier that guesses). Writes metrics.json to
--output and prints it.

Columns and their definitions: the dataset card (dataset-card.json) beside the data, docs/analytics.md.
"""

import argparse
import json
import os

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

KEY_COLUMNS = ["observation_time", "entity", "customer_id", "order_id"]
LABEL = "label"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="MLTable folder (or folder with data.parquet)")
    parser.add_argument("--entity", choices=["customer", "order"], default="customer")
    parser.add_argument("--validation-fraction", type=float, default=0.25)
    parser.add_argument("--output", required=True, help="folder for metrics.json")
    return parser.parse_args(argv)


def load(path):
    """The table as a pandas DataFrame: through MLTable when installed (Azure ML), else the Parquet file."""
    try:
        import mltable
    except ImportError:
        mltable = None
    if mltable is not None and os.path.exists(os.path.join(path, "MLTable")):
        return mltable.load(path).to_pandas_dataframe()
    return pd.read_parquet(os.path.join(path, "data.parquet") if os.path.isdir(path) else path)


def features(frame):
    """Numeric feature matrix: booleans as 0/1, o_status as 'is submitted', nulls left for the model."""
    out = frame.drop(columns=KEY_COLUMNS + [LABEL, "imported_history"], errors="ignore").copy()
    if "o_status" in out:
        out["o_status"] = (out["o_status"] == "submitted").astype("float64").where(out["o_status"].notna())
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = out[column].astype("int64")
    return out.astype("float64")


def time_split(frame, validation_fraction):
    """Training rows before the cut, validation rows at or after it; the cut is an observation time."""
    times = sorted(frame["observation_time"].unique())
    if len(times) < 2:
        raise SystemExit("need at least two observation times for a time split")
    first_validation = max(1, int(round(len(times) * (1 - validation_fraction))))
    cut = times[min(first_validation, len(times) - 1)]
    return frame[frame["observation_time"] < cut], frame[frame["observation_time"] >= cut], cut


def score(y_true, y_score):
    """ROC-AUC and PR-AUC, None when the validation set holds one class only."""
    if y_true.nunique() < 2:
        return None, None
    return float(roc_auc_score(y_true, y_score)), float(average_precision_score(y_true, y_score))


def main(argv=None):
    args = parse_args(argv)
    frame = load(args.data)
    frame = frame[frame["entity"] == args.entity]
    train, valid, cut = time_split(frame, args.validation_fraction)
    y_train = train[LABEL].astype("int64")
    y_valid = valid[LABEL].astype("int64")
    metrics = {
        "entity": args.entity,
        "rows": {"train": int(len(train)), "validation": int(len(valid))},
        "validation_from": str(cut),
        "base_rate": {"train": float(y_train.mean()), "validation": float(y_valid.mean())},
    }
    if y_train.nunique() < 2:
        metrics["note"] = "the training rows hold one class only: no model fitted"
    else:
        model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0)
        model.fit(features(train), y_train)
        probabilities = model.predict_proba(features(valid))[:, 1]
        roc_auc, pr_auc = score(y_valid, probabilities)
        metrics.update({"roc_auc": roc_auc, "pr_auc": pr_auc, "pr_auc_of_guessing": metrics["base_rate"]["validation"]})
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "metrics.json"), "w", encoding="utf-8") as out:
        json.dump(metrics, out, indent=2)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
