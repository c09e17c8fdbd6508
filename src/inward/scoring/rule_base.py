"""What every rule set is: the ``RuleSet`` base class, and the one rule all sets share.

A rule set reads answers: whether an object-level answer is compliant, the value of a property
of a compliant one, and what a hypothetical answer predicts. The concrete sets are
``inward.scoring.paper_rules`` (the paper's official rules) and ``inward.scoring.lenient_rules``
(inward's older reading); ``inward.scoring.rule_sets`` names them.

The base class fixes what the sets have in common, so that no set can leave it out:

* an unknown property name is a ValueError listing the allowed ones;
* a non-compliant object-level answer has no value for any property (None);
* ``degenerate``, a rule of inward's own (a deliberate deviation from the paper, see
  docs/METRICS.md): a hypothetical answer that is a degenerate repetition is non-compliant for
  every property;
* a hypothetical answer is compliant exactly when it reads as a value (``prediction`` is not
  None).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from inward.tasks.properties import Property, get_property


def degenerate(answer: str | None) -> bool:
    """inward's own rule: the answer starts with a unit of >= 2 characters repeated >= 3 times,
    the third copy possibly cut short after 2 characters ("lionlionlion", "lionlionli",
    "hahaha"). Read on the lower-cased, whitespace-collapsed answer."""
    t = " ".join(str(answer or "").lower().split())
    for unit in range(2, len(t) // 2):
        periodic = 0
        while unit + periodic < len(t) and t[unit + periodic] == t[periodic]:
            periodic += 1
        if unit + periodic >= 2 * unit + 2:
            return True
    return False


class RuleSet(ABC):
    """One way of reading answers (see the module doc). ``prop`` is a property name of
    ``inward.tasks.properties.PROPERTIES``; every reading returns None for "non-compliant or
    undefined", never raises on an odd answer."""

    name: ClassVar[str]
    """The set's name in ``metrics.rules``."""

    @abstractmethod
    def object_compliant(self, task: str, response: str | None) -> bool:
        """Whether an object-level answer to an item of ``task`` is compliant."""

    @abstractmethod
    def read_value(self, prop: Property, response: str, target: str | None) -> str | None:
        """The value of ``prop`` of a compliant object-level answer; None when undefined."""

    @abstractmethod
    def read_prediction(self, prop: Property, answer: str | None) -> str | None:
        """A non-degenerate hypothetical answer read as a value of ``prop``; None when
        non-compliant."""

    def object_value(self, prop: str, task: str, response: str | None,
                     target: str | None = None) -> str | None:
        """The value of property ``prop`` of an object-level answer to a ``task`` item; None
        when the answer is non-compliant or the property is undefined for it (too short, no
        target). ``target`` is the item's stance letter (matches_target only)."""
        prop_ = get_property(prop)
        if not self.object_compliant(task, response):
            return None
        return self.read_value(prop_, response, target)

    def prediction(self, prop: str, answer: str | None) -> str | None:
        """A hypothetical answer read as a value of property ``prop``; None = non-compliant."""
        prop_ = get_property(prop)
        if degenerate(answer):
            return None
        return self.read_prediction(prop_, answer)

    def hypothetical_compliant(self, prop: str, answer: str | None) -> bool:
        """Whether a hypothetical answer reads as a value of property ``prop``."""
        return self.prediction(prop, answer) is not None

    def __repr__(self) -> str:
        return f"<rule set {self.name!r}>"
