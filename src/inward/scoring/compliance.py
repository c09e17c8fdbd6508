"""Is an answer usable? Object level: non-empty and not a refusal. Hypothetical level: it
fits the property's answer format (``properties.normalise_prediction`` is not None)."""

from __future__ import annotations

from inward.scoring.refusals import REFUSAL_MARKERS, object_compliant
from inward.tasks import properties

__all__ = ["REFUSAL_MARKERS", "hypothetical_compliant", "object_compliant"]


def hypothetical_compliant(property: str, answer: str | None) -> bool:
    """True if the hypothetical answer can be read as a value of ``property``."""
    return properties.normalise_prediction(property, answer) is not None
