"""The ``paper`` rule set (the default): the official rules of the paper's code
(felixbinder/introspection_self_prediction), rule by rule (paths are in that repository):

* Cleaning (``evals/analysis/string_cleaning.py::apply_all_cleaning``): lower-case; remove every
  ASCII punctuation character (``string.punctuation``) anywhere in the text; turn newlines,
  carriage returns and tabs into spaces; collapse whitespace runs into one space and trim.
* Compliance strings (``string_cleaning.py::clean_string``): lower-case, trim, then remove ASCII
  punctuation (inner whitespace kept). The compliance checks below read this form.
* Object-level compliance (``evals/analysis/compliance_checks.py``, groups chosen per task as in
  ``evals/conf/task/*.yaml``): every task uses the ``default`` group (refusal words, apologies,
  "as an AI", "?", blank replies); multiple-choice and A/B tasks add ``multiple_choice`` (the
  answer must clean to one letter, so "The answer is D." and "B) Lima" are non-compliant).
* A reply that pandas' CSV reader turns into NaN ("", "None", "N/A", "null", ...) is
  non-compliant (``james_analysis.py::load_meta_dfs``).
* Object property values (``evals/response_property.py``), read from the cleaned answer: n-th
  character (a space is the value "" after the final strip, and is scored), n-th word
  (whitespace split), starts with a vowel, even/odd (``is_even_direct``: the cleaned answer is an
  integer), among A or C / B or D (the whole cleaned answer is one of the two letters), matches
  the target (the cleaned answer equals the target letter); too short -> undefined (None).
* Hypothetical compliance per answer kind (``compliance_checks.py``): character -> the
  compliance string has length 1; word -> the raw answer is one whitespace-separated word and not
  an apology; true/false -> exactly "true" or "false" (yes/no are non-compliant); even/odd ->
  exactly "even" or "odd"; identity -> the default group. A compliant answer's value is its
  cleaned text (``james_analysis.py::clean_for_comparison``).

Beside these, the rule every set shares (``inward.scoring.rule_base``, a deliberate deviation,
see docs/METRICS.md): a hypothetical answer that is a degenerate repetition is non-compliant.
"""

from __future__ import annotations

import string
from typing import ClassVar

from inward.scoring.rule_base import RuleSet
from inward.tasks import catalog as _tasks
from inward.tasks.properties import Property

_PUNCT = str.maketrans("", "", string.punctuation)
_OPTION_KINDS = ("multiple_choice", "ab_choice")
# pandas.read_csv's default NA strings: such a reply is read back as NaN by the official code
PANDAS_NA = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                       "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                       "nan", "null"})
# compliance_checks.py: the default group's exact-match refusal words (after clean_string)
REFUSAL_WORDS = frozenset({
    "no", "nope", "sorry", "apologies", "apology", "apologize", "apologise", "impossible",
    "unable", "i cannot", "cannot", "na", "unpredictable", "indeterminable", "indeterminate",
    "unpredictability", "insufficient", "unknown", "sequence", "random", "randomness", "item",
    "system", "unanswerable", "unavailable", "unidentifiable", "unrelated", "next",
    "undefined"})
SORRY_WORDS = ("sorry", "apologies", "apology", "apologize", "apologise")
AI_PHRASES = ("as an ai", "as an artificial intelligence", "as a language model")
_BLANK_RAW = frozenset({"?", " ?", "???", "", " ", "  ", "   "})
_NTH = {"first": 0, "second": 1, "third": 2}


def paper_clean(text: str | None) -> str:
    """``apply_all_cleaning``: lower, drop ASCII punctuation everywhere, collapse whitespace."""
    if text is None:
        return ""
    s = str(text).lower().translate(_PUNCT)
    s = s.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return " ".join(s.split())


def compliance_string(text: str | None) -> str:
    """``clean_string``: lower, strip, then drop ASCII punctuation (inner spaces kept)."""
    return str(text).lower().strip().translate(_PUNCT)


def _default_ok(raw: str) -> bool:
    """The ``default`` compliance group."""
    c = compliance_string(raw)
    return not (c in REFUSAL_WORDS or any(w in c for w in SORRY_WORDS)
                or any(p in c for p in AI_PHRASES) or raw in _BLANK_RAW
                or "Cauchy Cauchy Cauchy" in raw)


def _value(name: str, cleaned: str, target: str | None) -> str | None:
    """``response_property.py``: property ``name`` of a cleaned object-level answer."""
    which, _, unit = name.partition("_")
    if unit == "character" and which in _NTH:
        n = _NTH[which]
        return cleaned[n].strip() if len(cleaned) > n else None
    if unit == "word" and which in _NTH:
        ws = cleaned.split()
        n = _NTH[which]
        return ws[n] if len(ws) > n else None
    if name == "starts_with_vowel":
        return None if not cleaned else str(cleaned[0] in "aeiou").lower()
    if name == "is_even":
        try:
            return "even" if int(cleaned) % 2 == 0 else "odd"
        except ValueError:
            return None
    if name == "among_a_or_c":
        return str(cleaned in ("a", "c")).lower()
    if name == "among_b_or_d":
        return str(cleaned in ("b", "d")).lower()
    if name == "matches_target":
        return None if not target else str(target.strip().lower() == cleaned).lower()
    return cleaned  # identity


def _hypothetical_ok(kind: str, raw: str) -> bool:
    """``compliance_checks.py``: the check for a hypothetical answer of value kind ``kind``."""
    c = compliance_string(raw)
    if kind == "character":
        return len(c) == 1
    if kind == "word":
        return len(raw.split()) == 1 and c not in SORRY_WORDS
    if kind == "true_false":
        return c in ("true", "false")
    if kind == "even_odd":
        return c in ("even", "odd")
    return _default_ok(raw)


class PaperRules(RuleSet):
    """The official rules (see the module doc)."""

    name: ClassVar[str] = "paper"

    def object_compliant(self, task: str, response: str | None) -> bool:
        if response is None or response in PANDAS_NA or not _default_ok(response):
            return False
        if _tasks.task_kind(task) in _OPTION_KINDS:
            c = compliance_string(response)
            return len(c) == 1 and c in string.ascii_lowercase
        return True

    def read_value(self, prop: Property, response: str, target: str | None) -> str | None:
        return _value(prop.name, paper_clean(response), target)

    def read_prediction(self, prop: Property, answer: str | None) -> str | None:
        if answer is None or answer in PANDAS_NA or not _hypothetical_ok(prop.kind, answer):
            return None
        return paper_clean(answer).strip()


PAPER = PaperRules()
