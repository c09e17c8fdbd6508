"""The one cleaning rule, applied alike to object-level answers (training labels, scoring
targets) and to hypothetical answers (predictions); ``inward.tasks.properties`` documents it."""

from __future__ import annotations

import unicodedata

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _is_edge_junk(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch).startswith("P")


def strip_edges(text: str) -> str:
    """``text`` without whitespace and punctuation (Unicode P*) at either end."""
    start, end = 0, len(text)
    while start < end and _is_edge_junk(text[start]):
        start += 1
    while end > start and _is_edge_junk(text[end - 1]):
        end -= 1
    return text[start:end]


def clean(response: str | None) -> str:
    """NFC, straight quotes, lower case, runs of whitespace as one space, edges stripped;
    never returns None."""
    if not response:
        return ""
    text = unicodedata.normalize("NFC", response).translate(_QUOTES).lower()
    text = " ".join(text.split())
    return strip_edges(text)
