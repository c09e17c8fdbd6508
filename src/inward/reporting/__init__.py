"""Figures, report.md, loss curves and the model jobs' timings."""
