"""The study's shape: agent names, which agents and comparisons a study has, and every file path."""
