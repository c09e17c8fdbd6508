"""inward: do language models predict their own behaviour better than other models do?

A reproduction and extension of Binder et al. (2024), "Looking Inward", as a Snakemake + DVC
pipeline. See docs/ARCHITECTURE.md for the module map.
"""

__version__ = "0.1.0"
