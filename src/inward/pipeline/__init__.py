"""Glue for Snakemake and DVC: one step function per rule, resumable model calls, the DVC
record and experiment workspaces."""
