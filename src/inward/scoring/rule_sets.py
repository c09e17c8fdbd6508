"""The rule sets by name: ``paper`` (the default, ``inward.scoring.paper_rules``) and ``lenient``
(``inward.scoring.lenient_rules``); ``RuleSet`` (``inward.scoring.rule_base``) is what each is.

One rule set, named by ``metrics.rules`` in params.yaml, makes the finetuning labels, the
scored object-level values, the read hypothetical answers and the calibration distributions,
so a label and a score can never follow different rules. Callers resolve the name once
(``get_rule_set``) and call the set's methods::

    rules = get_rule_set("paper")
    rules.object_compliant(task, response)            # -> bool
    rules.object_value(prop, task, response, target)  # -> str | None
    rules.prediction(prop, answer)                    # -> str | None (None: non-compliant)
    rules.hypothetical_compliant(prop, answer)        # -> bool
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from inward.scoring.lenient_rules import LENIENT
from inward.scoring.paper_rules import PAPER
from inward.scoring.rule_base import RuleSet

__all__ = ["DEFAULT_RULES", "RULE_SETS", "RuleSet", "get_rule_set"]

RULE_SETS: Mapping[str, RuleSet] = MappingProxyType({r.name: r for r in (PAPER, LENIENT)})
"""Every rule set by its ``metrics.rules`` name."""
DEFAULT_RULES = "paper"
"""The rule set used where none is named (also the default of ``metrics.rules``)."""


def get_rule_set(rules: str | RuleSet) -> RuleSet:
    """The rule set named ``rules`` (a RuleSet is returned as it is); an unknown name is a
    ValueError naming the allowed ones."""
    if isinstance(rules, RuleSet):
        return rules
    try:
        return RULE_SETS[rules]
    except (KeyError, TypeError):
        raise ValueError(f"metrics.rules: unknown rule set {rules!r}; allowed: "
                         f"{', '.join(RULE_SETS)}") from None
