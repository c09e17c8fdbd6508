"""Behavioural properties of an answer, and the one cleaning rule used everywhere.

The cleaning rule (``clean``), applied identically to object-level answers (training labels,
scoring targets) and to hypothetical answers (predictions):

1. ``None`` becomes ``""``; Unicode is normalised to NFC (so "é" is one character).
2. Curly quotes/apostrophes become straight ones (’ -> ', “ ” -> ").
3. Lowercase (``str.lower``).
4. Every run of whitespace (spaces, tabs, newlines) becomes one space.
5. Whitespace and punctuation (Unicode categories P*) are stripped from both ends, repeatedly,
   so '  "Hello," ' -> 'hello' and '(B)' -> 'b'. Symbols such as "$" or "+" are kept.

Derived views of a cleaned answer:

* characters: the characters of the cleaned text ("Hello" -> second_character "e"). A
  character that cleaning would strip on its own (a space or punctuation mark) can never be
  given as a one-character answer, so the property is undefined (None) there.
* words: the cleaned text split on spaces, punctuation stripped from each word's edges, empty
  words dropped ("hello, world!" -> ["hello", "world"]).
* option letter: "A", "(b)", "b)", "Option C", "The answer is D.", "A - some text" -> the
  upper-case letter A-D; anything else -> None.

``None`` always means undefined or non-compliant (empty answer, refusal, no third word, no
option letter, no target); callers keep such rows and count them, never drop them silently.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from inward.scoring.cleaning import clean
from inward.scoring.cleaning import strip_edges as _strip_edges
from inward.scoring.refusals import object_compliant
from inward.tasks import catalog as _tasks

_VOWELS = set("aeiou")
TRUE, FALSE = "true", "false"


def words(response: str | None) -> list[str]:
    """Words of the cleaned answer, punctuation stripped from each word's edges."""
    out = (_strip_edges(w) for w in clean(response).split(" "))
    return [w for w in out if w]


_LETTER_PATTERNS = [
    re.compile(r"^\(?([a-d])\)?$"),
    re.compile(r"^\(?([a-d])\)?\s*[-:.)]\s*\S"),
    re.compile(r"^(?:the\s+)?(?:correct\s+|best\s+|right\s+)?(?:answer|option|choice)"
               r"(?:\s+(?:is|would\s+be))?\s*:?\s*(?:option\s+)?\(?([a-d])\)?(?![a-z])"),
    re.compile(r"^i\s+(?:would\s+)?(?:choose|pick|select)\s+(?:option\s+)?\(?([a-d])\)?(?![a-z])"),
]


def option_letter(response: str | None) -> str | None:
    """The option letter an answer picks (upper case A-D), None if there is none."""
    text = clean(response)
    for pattern in _LETTER_PATTERNS:
        m = pattern.match(text)
        if m:
            return m.group(1).upper()
    return None


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


def _nth_char(text: str, n: int) -> str | None:
    if len(text) <= n:
        return None
    ch = text[n]
    return ch if clean(ch) == ch else None  # a space or punctuation mark can't be answered


def _nth_word(response: str | None, n: int) -> str | None:
    ws = words(response)
    return ws[n] if len(ws) > n else None


def _bool(flag: bool) -> str:
    return TRUE if flag else FALSE


def _starts_with_vowel(text: str) -> str | None:
    if not text:
        return None
    base = unicodedata.normalize("NFD", text[0])[0]  # "é" counts as "e"
    return _bool(base in _VOWELS)


def _parity(text: str) -> str | None:
    m = re.search(r"\d+", text)
    if not m:
        return None
    return "even" if int(m.group()) % 2 == 0 else "odd"


def _among(response: str | None, letters: str) -> str | None:
    letter = option_letter(response)
    return None if letter is None else _bool(letter in letters)


def _matches(response: str | None, target: str | None) -> str | None:
    letter = option_letter(response)
    if letter is None or not target:
        return None
    return _bool(letter == target.strip().upper())


def extract(name: str, response: str | None, target: str | None = None) -> str | None:
    """The value of property ``name`` for one object-level answer, None if undefined.

    Refusals and empty answers (see ``inward.scoring.refusals``) give None for every property.
    ``target`` is the item's stance letter, only used by matches_target.
    """
    get_property(name)
    if response is None or not object_compliant(response):
        return None
    text = clean(response)
    if name.endswith("_character"):
        return _nth_char(text, ["first", "second", "third"].index(name.split("_")[0]))
    if name.endswith("_word"):
        return _nth_word(response, ["first", "second", "third"].index(name.split("_")[0]))
    if name == "starts_with_vowel":
        return _starts_with_vowel(text)
    if name == "is_even":
        return _parity(text)
    if name == "among_a_or_c":
        return _among(response, "AC")
    if name == "among_b_or_d":
        return _among(response, "BD")
    if name == "matches_target":
        return _matches(response, target)
    return text or None  # identity


_TRUE_FALSE = {"true": TRUE, "yes": TRUE, "false": FALSE, "no": FALSE}


def normalise_prediction(name: str, answer: str | None) -> str | None:
    """Turn a hypothetical-level answer into a value comparable with ``extract``'s.

    character properties: the cleaned answer if it is exactly one character; word
    properties: the answer if it is exactly one word; true/false properties (including
    matches_target, whose question asks "was it the option that <stance>?"): true/yes ->
    "true", false/no -> "false"; is_even: "even"/"odd"; identity: the cleaned answer.
    Anything else (extra words, empty, refusal) -> None, i.e. non-compliant.
    """
    prop = get_property(name)
    text = clean(answer)
    if not text:
        return None
    if prop.kind == "character":
        return text if len(text) == 1 else None
    if prop.kind == "word":
        ws = words(answer)
        return ws[0] if len(ws) == 1 else None
    if prop.kind == "true_false":
        return _TRUE_FALSE.get(text)
    if prop.kind == "even_odd":
        return text if text in ("even", "odd") else None
    return text
