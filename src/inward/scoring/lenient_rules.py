"""The ``lenient`` rule set: inward's older reading of answers, kept as an option
(``metrics.rules: lenient``). Unlike the ``paper`` set it strips punctuation only at the edges,
reads option letters out of sentences and accepts yes/no for true/false.

Cleaning (``clean``), applied alike to object-level and hypothetical answers:

1. ``None`` becomes ``""``; Unicode is normalised to NFC (so "é" is one character).
2. Curly quotes/apostrophes become straight ones (’ -> ', “ ” -> ").
3. Lowercase (``str.lower``).
4. Every run of whitespace (spaces, tabs, newlines) becomes one space.
5. Whitespace and punctuation (Unicode categories P*) are stripped from both ends, repeatedly,
   so '  "Hello," ' -> 'hello' and '(B)' -> 'b'. Symbols such as "$" or "+" are kept.

Object-level compliance: the cleaned answer is non-empty and does not open with a refusal
(``REFUSAL_MARKERS``); the task does not matter.

Object-level values, read from views of the cleaned answer:

* characters: the characters of the cleaned text ("Hello" -> second_character "e"). A
  character that cleaning would strip on its own (a space or punctuation mark) can never be
  given as a one-character answer, so the property is undefined (None) there.
* words: the cleaned text split on spaces, punctuation stripped from each word's edges, empty
  words dropped ("hello, world!" -> ["hello", "world"]).
* starts_with_vowel: the first character without its accent is a, e, i, o or u; is_even: the
  parity of the first run of digits.
* option letter: "A", "(b)", "b)", "Option C", "The answer is D.", "A - some text" -> the
  upper-case letter A-D; anything else -> None (among_a_or_c, among_b_or_d, matches_target).
* identity: the cleaned text.

Hypothetical answers: character properties: the cleaned answer if it is exactly one
character; word properties: the answer if it is exactly one word; true/false properties
(including matches_target): true/yes -> "true", false/no -> "false"; is_even: "even"/"odd";
identity: the cleaned answer. Anything else (extra words, empty, refusal) is non-compliant, and
so is a degenerate repetition (the rule every set shares, ``inward.scoring.rule_base``). A value
read from an object-level answer reads back unchanged as a hypothetical answer.
"""

from __future__ import annotations

import re
import unicodedata
from typing import ClassVar

from inward.scoring.rule_base import RuleSet
from inward.tasks.properties import Property

TRUE, FALSE = "true", "false"
_VOWELS = set("aeiou")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_NTH = {"first": 0, "second": 1, "third": 2}

# Checked against the start of the cleaned answer (lower case, straight apostrophes), so a
# story that merely contains "I'm sorry" later on still counts as an answer.
REFUSAL_MARKERS: tuple[str, ...] = (
    "i'm sorry",
    "i am sorry",
    "sorry, i",
    "i apologize",
    "i apologise",
    "i cannot",
    "i can't",
    "i can not",
    "i am unable",
    "i'm unable",
    "i am not able",
    "i'm not able",
    "i won't",
    "i will not",
    "as an ai",
    "as a language model",
    "as an assistant",
)


# --- cleaning ----------------------------------------------------------------------------------
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


def words(response: str | None) -> list[str]:
    """Words of the cleaned answer, punctuation stripped from each word's edges."""
    out = (strip_edges(w) for w in clean(response).split(" "))
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


# --- object-level values -----------------------------------------------------------------------
def _bool(flag: bool) -> str:
    return TRUE if flag else FALSE


def _nth_char(text: str, n: int) -> str | None:
    if len(text) <= n:
        return None
    ch = text[n]
    return ch if clean(ch) == ch else None  # a space or punctuation mark can't be answered


def _nth_word(response: str, n: int) -> str | None:
    ws = words(response)
    return ws[n] if len(ws) > n else None


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


def _among(response: str, letters: str) -> str | None:
    letter = option_letter(response)
    return None if letter is None else _bool(letter in letters)


def _matches(response: str, target: str | None) -> str | None:
    letter = option_letter(response)
    if letter is None or not target:
        return None
    return _bool(letter == target.strip().upper())


_TRUE_FALSE = {"true": TRUE, "yes": TRUE, "false": FALSE, "no": FALSE}


class LenientRules(RuleSet):
    """inward's older reading (see the module doc)."""

    name: ClassVar[str] = "lenient"

    def object_compliant(self, task: str, response: str | None) -> bool:
        text = clean(response)
        return bool(text) and not any(text.startswith(m) for m in REFUSAL_MARKERS)

    def read_value(self, prop: Property, response: str, target: str | None) -> str | None:
        name, text = prop.name, clean(response)
        which, _, unit = name.partition("_")
        if unit == "character" and which in _NTH:
            return _nth_char(text, _NTH[which])
        if unit == "word" and which in _NTH:
            return _nth_word(response, _NTH[which])
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

    def read_prediction(self, prop: Property, answer: str | None) -> str | None:
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


LENIENT = LenientRules()
