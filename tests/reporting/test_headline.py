"""The headline numbers (reports/headline.json): copied from metrics.json, few enough for
`dvc exp show`."""

from __future__ import annotations

import json

from hand_study import CALIB, P, write_study
from inward.config.types import CalibrationConfig
from inward.reporting.headline import headline_metrics, write_headline
from inward.scoring.evaluation import evaluate_study
from inward.study import layout


def test_headline_numbers_are_the_metrics_own(tmp_path, monkeypatch):
    write_study(tmp_path)
    monkeypatch.chdir(tmp_path)
    metrics = evaluate_study(models=["m1", "m2"], test_items=layout.items_path("test"),
                             props=[P], calib=CalibrationConfig(n_samples=4, temperature=1.0,
                                                                **CALIB),
                             n_boot=50, seed=0, metrics_path=layout.METRICS,
                             tables_dir=layout.TABLES)
    written = write_headline(layout.METRICS, layout.HEADLINE)
    assert json.loads((tmp_path / layout.HEADLINE).read_text()) == written
    assert written == headline_metrics(metrics)
    m1 = metrics["targets"]["m1"]
    h = written["m1"]
    assert h["self"] == m1["self"]["accuracy"] and h["untrained"] == m1["untrained"]["accuracy"]
    assert h["mode_baseline"] == m1["self"]["baseline"]
    assert h["cross_m2"] == m1["cross"]["m2"]["accuracy"]
    test = m1["self_vs_cross"]["m2"]["keep_all"]
    assert (h["self_minus_cross_m2"], h["self_minus_cross_m2_ci_low"],
            h["self_minus_cross_m2_ci_high"]) == (test["diff"], test["ci_low"], test["ci_high"])
    assert (h["shift_new"], h["shift_old"]) == (m1["shift"]["new"]["accuracy"],
                                                m1["shift"]["old"]["accuracy"])
    assert h["calibration_mad_self"] == m1["calibration_mad"]["self"]["mad"]
    assert sum(len(v) for v in written.values()) <= 25


def test_a_single_model_has_no_cross_or_shift_numbers(tmp_path, monkeypatch):
    write_study(tmp_path)
    monkeypatch.chdir(tmp_path)
    metrics = evaluate_study(models=["m1"], test_items=layout.items_path("test"), props=[P],
                             calib=CalibrationConfig(n_samples=4, temperature=1.0, **CALIB),
                             n_boot=50, seed=0, metrics_path=layout.METRICS,
                             tables_dir=layout.TABLES)
    assert set(headline_metrics(metrics)["m1"]) == {"untrained", "self", "mode_baseline",
                                                   "calibration_mad_self"}
