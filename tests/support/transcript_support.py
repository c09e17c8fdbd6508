"""The metrics recomputed from the transcript table alone, and the transcript page driven in
headless Chromium (Debian's ``chromium`` and ``chromium-driver``; ``make browser``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _acc(rows: pl.DataFrame, column: str = "correct") -> dict:
    return {"accuracy": float(rows[column].mean()) if rows.height else None, "n": rows.height}


def recompute(table: pl.DataFrame) -> dict:
    """{target: {role: {"keep_all" | "compliant": {"accuracy", "n"}}}} for every role, and
    {target: {"shift_new" | "shift_old": ...}} on the rows the shift changed, from the
    table's own columns (docs/ARCHITECTURE.md, "Transcript table")."""
    out: dict = {}
    for (target, role), rows in table.group_by(["target_model", "role"]):
        kept = rows.filter(pl.col("scored"))
        compliant = kept.filter(pl.col("hypothetical_compliant"))
        node = out.setdefault(target, {})
        node[role] = {"keep_all": _acc(kept), "compliant": _acc(compliant)}
        if role == "shift":
            changed = kept.filter(pl.col("changed"))
            changed_compliant = changed.filter(pl.col("hypothetical_compliant"))
            node["shift_new"] = {"keep_all": _acc(changed),
                                 "compliant": _acc(changed_compliant)}
            node["shift_old"] = {"keep_all": _acc(changed, "correct_old"),
                                 "compliant": _acc(changed_compliant, "correct_old")}
    return out


def metrics_block(metrics: dict, target: str, role: str) -> dict:
    """The block of ``metrics.json`` a recomputed role stands for."""
    t = metrics["targets"][target]
    if role.startswith("cross:") and "@" in role:  # a cross-scaling point
        m2, share = role.split(":", 1)[1].split("@")
        return t["cross_scaling"][m2]["points"][share]
    if role.startswith("cross:"):
        return t["cross"][role.split(":", 1)[1]]
    if role in ("shift_new", "shift_old"):
        return t["shift"][role.split("_")[1]]
    return t[role]


def differences(table: pl.DataFrame, metrics: dict, tol: float = 1e-9) -> list[str]:
    """Where the recomputation and ``metrics.json`` disagree (accuracy and n, both
    policies); [] when they agree. Every role of every target of the metrics must be there."""
    found = recompute(table)
    problems = []
    for target, roles in found.items():
        for role, policies in roles.items():
            if role == "shift":  # scored only on the rows it changed: shift_new, shift_old
                continue
            block = metrics_block(metrics, target, role)
            for policy, got in policies.items():
                suffix = "" if policy == "keep_all" else "_compliant"
                want_acc, want_n = block[f"accuracy{suffix}"], block[f"n{suffix}"]
                if got["n"] != want_n:
                    problems.append(f"{target}.{role}.n{suffix}: {got['n']} != {want_n}")
                if (got["accuracy"] is None) != (want_acc is None) or (
                        want_acc is not None and abs(got["accuracy"] - want_acc) > tol):
                    problems.append(f"{target}.{role}.accuracy{suffix}: {got['accuracy']} != "
                                    f"{want_acc}")
    for target, t in metrics["targets"].items():
        expected = {"untrained", "self", *(f"cross:{m2}" for m2 in t.get("cross", {}))}
        expected |= {"shift", "shift_new", "shift_old"} if "shift" in t else set()
        expected |= {f"cross:{m2}@{share}" for m2, entry in t.get("cross_scaling", {}).items()
                     for share in entry["points"]}
        missing = expected - set(found.get(target, {}))
        if missing:
            problems.append(f"{target}: no rows for {sorted(missing)}")
    return problems


def chromium():
    """A headless Chromium driven through /usr/bin/chromedriver (never a downloaded one); the
    test is skipped, saying why, only where the browser cannot be installed."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"{CHROMIUM} or {CHROMEDRIVER} is missing and `make browser` could not "
                    "install them (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-extensions", "--no-first-run", "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class Page:
    """The transcript page open in ``driver``: filters, rows, the item panel."""

    def __init__(self, driver, path: Path):
        from selenium.webdriver.common.by import By

        self.driver, self.by = driver, By
        driver.get(Path(path).resolve().as_uri())

    def find(self, css: str):
        return self.driver.find_element(self.by.CSS_SELECTOR, css)

    def find_all(self, css: str, within=None):
        return (within or self.driver).find_elements(self.by.CSS_SELECTOR, css)

    def choose(self, select_id: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.find(f"#{select_id}")).select_by_value(value)

    def count(self) -> str:
        return self.find("#count").text

    def rows(self) -> list[list[str]]:
        return [[td.text for td in self.find_all("td", tr)]
                for tr in self.find_all("#rows tbody tr")]

    def open_item(self, index: int = 0) -> None:
        self.find_all("#rows tbody button.item")[index].click()

    def cards(self, prop: str) -> dict[str, str]:
        """role -> text of that role's card for ``prop`` in the open item panel."""
        section = self.find(f'#detail section.property[data-property="{prop}"]')
        return {c.get_attribute("data-role"): c.text for c in self.find_all(".card", section)}
