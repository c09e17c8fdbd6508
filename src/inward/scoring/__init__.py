"""From answers to numbers: the rule sets that read answers, frames, metrics, calibration and
the study's evaluation."""
