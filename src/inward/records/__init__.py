"""JSONL records: reading and writing the study's row files."""
