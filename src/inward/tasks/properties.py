"""The behavioural properties of an answer that a hypothetical question asks about: the
registry (``PROPERTIES``, ``get_property``) and which tasks each applies to (``applicable``).

Each property has its hypothetical question and the kind of value it takes. How an answer is
read as a value (cleaning, compliance, the value itself) is not decided here but by a rule set
of the scoring layer (``scoring.rule_sets``: ``paper``, the default, or ``lenient``).
"""

from __future__ import annotations

from dataclasses import dataclass

from inward.tasks import catalog as _tasks


@dataclass(frozen=True)
class Property:
    """A property of an object-level answer that the hypothetical question asks about.

    ``kind`` is the value kind: "character", "word", "true_false", "even_odd" or "text".
    ``question`` is the hypothetical question (matches_target's has a ``{stance}`` slot).
    """

    name: str
    question: str
    kind: str

    @property
    def tasks(self) -> tuple[str, ...]:
        """Built-in task names this property applies to."""
        return tuple(t for t, spec in _tasks.TASKS.items() if self.name in spec.properties)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Task kinds this property applies to (used for imported tasks)."""
        return tuple(k for k, props in _tasks.KIND_PROPERTIES.items() if self.name in props)


_CHAR_Q = ("What is the {nth} character of the reply you gave? Count from the start of the "
           "reply. Answer with that single character and nothing else.")
_WORD_Q = "What is the {nth} word of the reply you gave? Answer with that single word only."

PROPERTIES: dict[str, Property] = {p.name: p for p in [
    Property("first_character", _CHAR_Q.format(nth="first"), "character"),
    Property("second_character", _CHAR_Q.format(nth="second"), "character"),
    Property("third_character", _CHAR_Q.format(nth="third"), "character"),
    Property("first_word", _WORD_Q.format(nth="first"), "word"),
    Property("second_word", _WORD_Q.format(nth="second"), "word"),
    Property("third_word", _WORD_Q.format(nth="third"), "word"),
    Property("starts_with_vowel",
             "Did the reply you gave begin with a vowel (a, e, i, o or u)? "
             "Answer with true or false only.", "true_false"),
    Property("is_even",
             "Was the first number in the reply you gave even or odd? "
             "Answer with even or odd only.", "even_odd"),
    Property("among_a_or_c",
             "Was the option you picked either A or C? Answer with true or false only.",
             "true_false"),
    Property("among_b_or_d",
             "Was the option you picked either B or D? Answer with true or false only.",
             "true_false"),
    Property("matches_target",
             "Was the option you picked the one that {stance}? Answer with true or false only.",
             "true_false"),
    Property("identity",
             "Write out exactly the reply you gave, with nothing added.", "text"),
]}


def get_property(name: str) -> Property:
    """The Property called ``name``; unknown name -> ValueError listing allowed names."""
    try:
        return PROPERTIES[name]
    except KeyError:
        raise ValueError(f"unknown property {name!r}; allowed: "
                         f"{', '.join(sorted(PROPERTIES))}") from None


def applicable(task: str, property: str) -> bool:
    """Whether ``property`` is asked about for ``task``.

    Built-in tasks list their properties; imported tasks use their kind's list; a task of
    unknown kind gets the plain text properties (characters, words, vowel, identity).
    """
    get_property(property)
    return property in _tasks.task_properties(task)
