"""Rule sets that turn answers into comparable values: ``paper`` (default) and ``lenient``.

One rule set, named by ``metrics.rules`` in params.yaml, makes the finetuning labels, the
scored object-level values, the read hypothetical answers and the calibration distributions,
so a label and a score can never follow different rules.

``paper``: the official rules of the paper's code (felixbinder/introspection_self_prediction),
rule by rule (paths are in that repository):

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

``lenient``: inward's earlier reading (``inward.tasks.properties`` / ``inward.scoring.compliance``): edge
punctuation only, option letters read out of sentences, yes/no accepted for true/false.

Both rule sets add one rule of inward's own (a deliberate deviation, see docs/METRICS.md): a
hypothetical answer that is a degenerate repetition (``degenerate``) is non-compliant for every
property.
"""

from __future__ import annotations

import string

from inward.scoring import compliance as _lenient_compliance
from inward.tasks import catalog as _tasks
from inward.tasks import properties as _props

RULE_SETS = ("paper", "lenient")
DEFAULT_RULES = "paper"

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


def check_rules(rules: str) -> str:
    """``rules`` itself if it names a rule set, else ValueError naming the allowed ones."""
    if rules not in RULE_SETS:
        raise ValueError(f"metrics.rules: unknown rule set {rules!r}; allowed: "
                         f"{', '.join(RULE_SETS)}")
    return rules


# --- paper cleaning ----------------------------------------------------------------------------
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
    c = compliance_string(raw)
    return not (c in REFUSAL_WORDS or any(w in c for w in SORRY_WORDS)
                or any(p in c for p in AI_PHRASES) or raw in _BLANK_RAW
                or "Cauchy Cauchy Cauchy" in raw)


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


# --- object level ------------------------------------------------------------------------------
def _is_option_task(task: str) -> bool:
    return _tasks.task_kind(task) in _OPTION_KINDS


def object_compliant(task: str, response: str | None, rules: str = DEFAULT_RULES) -> bool:
    """Whether an object-level answer to a ``task`` item is compliant under ``rules``."""
    if check_rules(rules) == "lenient":
        return response is not None and _lenient_compliance.object_compliant(response)
    if response is None or response in PANDAS_NA or not _default_ok(response):
        return False
    if _is_option_task(task):
        c = compliance_string(response)
        return len(c) == 1 and c in string.ascii_lowercase
    return True


def _paper_value(name: str, cleaned: str, target: str | None) -> str | None:
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


def object_value(name: str, task: str, response: str | None, target: str | None = None,
                 rules: str = DEFAULT_RULES) -> str | None:
    """The value of property ``name`` of an object-level answer; None when the answer is
    non-compliant or the property is undefined for it (too short, no target)."""
    _props.get_property(name)
    if not object_compliant(task, response, rules):
        return None
    if rules == "lenient":
        return _props.extract(name, response, target)
    return _paper_value(name, paper_clean(response), target)


# --- hypothetical level ------------------------------------------------------------------------
def _paper_hypothetical_ok(kind: str, raw: str) -> bool:
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


def prediction(name: str, answer: str | None, rules: str = DEFAULT_RULES) -> str | None:
    """A hypothetical answer read as a value of property ``name``; None = non-compliant."""
    prop = _props.get_property(name)
    if check_rules(rules) == "lenient":
        value = _props.normalise_prediction(name, answer)
        return None if value is None or degenerate(answer) else value
    if answer is None or answer in PANDAS_NA or degenerate(answer):
        return None
    if not _paper_hypothetical_ok(prop.kind, answer):
        return None
    return paper_clean(answer).strip()


def hypothetical_compliant(name: str, answer: str | None, rules: str = DEFAULT_RULES) -> bool:
    return prediction(name, answer, rules) is not None
