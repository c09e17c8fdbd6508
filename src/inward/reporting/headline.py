"""The headline numbers of a study: the few that ``dvc exp show`` and a bare ``dvc metrics
diff`` list (``reports/headline.json``), so that experiments side by side fit a terminal.

Per target model: its untrained and self-trained accuracy, the mode baseline, each cross
predictor's accuracy with the paired self-minus-cross difference and its item-level CI, the
shift's new and old accuracy, and the self-trained calibration MAD; all keep-all, all copied
from ``reports/metrics.json`` (which stays versioned in full: ``dvc metrics diff --targets
reports/metrics.json``). docs/METRICS.md defines each.
"""

from __future__ import annotations

import json
from pathlib import Path


def headline_metrics(metrics: dict) -> dict:
    """{target: {key: number}} from a metrics.json document."""
    out: dict = {}
    for target, r in metrics["targets"].items():
        h = {"untrained": r["untrained"]["accuracy"], "self": r["self"]["accuracy"],
             "mode_baseline": r["self"]["baseline"]}
        for m2, block in r.get("cross", {}).items():
            test = r["self_vs_cross"][m2]["keep_all"]
            h[f"cross_{m2}"] = block["accuracy"]
            h[f"self_minus_cross_{m2}"] = test["diff"]
            h[f"self_minus_cross_{m2}_ci_low"] = test["ci_low"]
            h[f"self_minus_cross_{m2}_ci_high"] = test["ci_high"]
        if "shift" in r:
            h["shift_new"] = r["shift"]["new"]["accuracy"]
            h["shift_old"] = r["shift"]["old"]["accuracy"]
        h["calibration_mad_self"] = r["calibration_mad"]["self"]["mad"]
        out[target] = h
    return out


def write_headline(metrics_path: str | Path, headline_path: str | Path) -> dict:
    """Write ``headline_metrics`` of the metrics file as JSON; returns it."""
    headline = headline_metrics(json.loads(Path(metrics_path).read_text()))
    Path(headline_path).write_text(json.dumps(headline, indent=2, sort_keys=True) + "\n")
    return headline
