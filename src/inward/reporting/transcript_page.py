"""``reports/transcripts.html``: the transcript table as one offline page.

Self-contained: the style, the script and the data (JSON) are inside the file, nothing is
fetched, so it opens from disk, from a DVC cache or an e-mail attachment. Rows filter by task,
property, agent, target model, role, correct or not and changed by the shift; clicking an item
opens its chats and every agent of that comparison on it side by side.

Model answers are arbitrary text (``</script>``, ``<b>``, quotes): the data sits in a
``<script type="application/json">`` element with every ``<``, ``>`` and ``&`` written as a
JSON escape, and the script puts text on the page only through ``textContent``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import polars as pl

# what each table row carries to the page (the chats are stored once per item)
ROW_COLUMNS = ["target_model", "role", "agent", "target_agent", "task", "property",
               "object_response", "target_value", "object_compliant", "hypothetical_response",
               "prediction", "hypothetical_compliant", "scored", "correct", "old_agent",
               "old_response", "old_value", "changed", "object_dropped", "hypothetical_dropped"]


def page_data(table: pl.DataFrame) -> dict:
    """The page's data: items (their chats, once each) and rows (``ROW_COLUMNS`` plus the
    index of their item)."""
    items: list[dict] = []
    index: dict[tuple[str, str], int] = {}
    rows = []
    for r in table.iter_rows(named=True):
        key = (r["task"], r["item_id"])
        if key not in index:
            index[key] = len(items)
            items.append({"task": r["task"], "item_id": r["item_id"],
                          "object": json.loads(r["object_messages"]), "hypothetical": {}})
        item = items[index[key]]
        item["hypothetical"].setdefault(r["property"], json.loads(r["hypothetical_messages"]))
        rows.append([r[c] for c in ROW_COLUMNS] + [index[key]])
    return {"columns": [*ROW_COLUMNS, "item"], "items": items, "rows": rows}


def embedded_json(data: object) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` survives, so no
    answer can close the element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def write_page(table: pl.DataFrame, page: str | Path, title: str) -> None:
    """Write the page of ``table`` (``inward.reporting.transcripts``) to ``page``."""
    text = (_TEMPLATE.replace("__TITLE__", html.escape(title))
            .replace("__DATA__", embedded_json(page_data(table))))
    Path(page).parent.mkdir(parents=True, exist_ok=True)
    Path(page).write_text(text, encoding="utf-8")


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; }
header { padding: 10px 16px; background: #f4f4f4; border-bottom: 1px solid #ddd; }
h1 { font-size: 18px; margin: 0 0 8px; }
.filters { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: end; }
.filters label { display: flex; flex-direction: column; font-size: 12px; color: #555; }
main { padding: 8px 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 6px; text-align: left;
         vertical-align: top; }
th { position: sticky; top: 0; background: #fff; }
td.answer { font-family: ui-monospace, monospace; white-space: pre-wrap; max-width: 28em;
            overflow-wrap: anywhere; }
.yes { color: #176317; } .no { color: #a11; } .none { color: #999; }
button.item { font: inherit; color: #0645ad; background: none; border: 0; padding: 0;
              cursor: pointer; text-decoration: underline; }
#detail { position: fixed; inset: 0 0 0 auto; width: min(1100px, 96vw); overflow: auto;
          background: #fff; border-left: 2px solid #888; padding: 12px 18px;
          box-shadow: -4px 0 12px rgba(0,0,0,.2); }
#detail[hidden] { display: none; }
.msg { border: 1px solid #ddd; border-radius: 4px; margin: 4px 0; padding: 4px 8px; }
.msg .role { font-size: 11px; text-transform: uppercase; color: #777; }
.msg pre, .card pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 2px 0;
                      font-family: ui-monospace, monospace; }
.cards { display: flex; gap: 8px; overflow-x: auto; padding-bottom: 6px; }
.card { flex: 0 0 230px; border: 1px solid #ccc; border-radius: 4px; padding: 6px 8px; }
.card h4 { margin: 0 0 4px; font-size: 13px; }
.card dt { font-size: 11px; color: #777; } .card dd { margin: 0 0 4px; }
</style>
</head>
<body>
<header>
<h1>__TITLE__</h1>
<div class="filters">
<label>task <select id="f-task"></select></label>
<label>property <select id="f-property"></select></label>
<label>agent <select id="f-agent"></select></label>
<label>target model <select id="f-target"></select></label>
<label>role <select id="f-role"></select></label>
<label>correct <select id="f-correct"><option value="">any</option>
<option value="yes">correct</option><option value="no">wrong (scored)</option>
<option value="unscored">not scored</option></select></label>
<label>changed by the shift <select id="f-changed"><option value="">any</option>
<option value="yes">changed</option><option value="no">not changed</option></select></label>
<label>search answers <input id="f-text" type="search" placeholder="text"></label>
<span id="count"></span>
</div>
</header>
<main>
<table id="rows"><thead><tr>
<th>target model</th><th>role</th><th>agent</th><th>task</th><th>item</th><th>property</th>
<th>target's answer</th><th>target value</th><th>hypothetical answer</th><th>prediction</th>
<th>correct</th><th>shift: old &rarr; new</th></tr></thead><tbody></tbody></table>
<p><button id="more" hidden>show more rows</button></p>
</main>
<aside id="detail" hidden></aside>
<script type="application/json" id="data">__DATA__</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const C = Object.fromEntries(DATA.columns.map((c, i) => [c, i]));
const PAGE = 500;
let shown = PAGE, matching = [];

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function shownValue(v) { return v === null || v === undefined ? "\\u2014" : String(v); }
function yesNo(v) {
  return v === null || v === undefined ? el("span", "\\u2014", "none")
    : el("span", v ? "yes" : "no", v ? "yes" : "no");
}
function fill(id, column) {
  const select = document.getElementById(id);
  select.append(new Option("any", ""));
  const values = [...new Set(DATA.rows.map(r => r[C[column]]))].sort();
  for (const v of values) select.append(new Option(v, v));
  select.addEventListener("change", () => { shown = PAGE; render(); });
}
fill("f-task", "task"); fill("f-property", "property"); fill("f-agent", "agent");
fill("f-target", "target_model"); fill("f-role", "role");
for (const id of ["f-correct", "f-changed"])
  document.getElementById(id).addEventListener("change", () => { shown = PAGE; render(); });
document.getElementById("f-text").addEventListener("input", () => { shown = PAGE; render(); });
document.getElementById("more").addEventListener("click", () => { shown += PAGE; render(); });

function value(id) { return document.getElementById(id).value; }
function keep(r) {
  const eq = [["f-task", "task"], ["f-property", "property"], ["f-agent", "agent"],
              ["f-target", "target_model"], ["f-role", "role"]];
  for (const [id, col] of eq) if (value(id) && r[C[col]] !== value(id)) return false;
  const correct = value("f-correct");
  if (correct === "yes" && !r[C.correct]) return false;
  if (correct === "no" && !(r[C.scored] && !r[C.correct])) return false;
  if (correct === "unscored" && r[C.scored]) return false;
  const changed = value("f-changed");
  if (changed === "yes" && r[C.changed] !== true) return false;
  if (changed === "no" && r[C.changed] === true) return false;
  const text = value("f-text").toLowerCase();
  if (text) {
    const hay = [r[C.object_response], r[C.hypothetical_response], r[C.old_response]]
      .map(x => (x || "").toLowerCase()).join("\\n");
    if (!hay.includes(text)) return false;
  }
  return true;
}
function render() {
  matching = DATA.rows.filter(keep);
  const body = document.querySelector("#rows tbody");
  const frag = document.createDocumentFragment();
  for (const r of matching.slice(0, shown)) {
    const tr = document.createElement("tr");
    const item = DATA.items[r[C.item]];
    tr.append(el("td", r[C.target_model]), el("td", r[C.role]), el("td", r[C.agent]),
              el("td", r[C.task]));
    const cell = el("td"), open = el("button", item.item_id, "item");
    open.addEventListener("click", () => openItem(r));
    cell.append(open);
    tr.append(cell, el("td", r[C.property]),
              el("td", shownValue(r[C.object_response]), "answer"),
              el("td", shownValue(r[C.target_value]), "answer"),
              el("td", shownValue(r[C.hypothetical_response]), "answer"),
              el("td", shownValue(r[C.prediction]), "answer"));
    const ok = el("td");
    ok.append(r[C.scored] ? yesNo(r[C.correct]) : el("span", "not scored", "none"));
    tr.append(ok, el("td", r[C.role] === "shift"
      ? shownValue(r[C.old_value]) + " \\u2192 " + shownValue(r[C.target_value])
        + (r[C.changed] ? " (changed)" : "") : ""));
    frag.append(tr);
  }
  body.replaceChildren(frag);
  document.getElementById("count").textContent =
    matching.length + " of " + DATA.rows.length + " rows";
  document.getElementById("more").hidden = matching.length <= shown;
}

function chat(title, messages) {
  const box = el("section");
  box.append(el("h3", title));
  for (const m of messages) {
    const msg = el("div", undefined, "msg");
    msg.append(el("div", m.role, "role"), el("pre", m.content));
    box.append(msg);
  }
  return box;
}
function card(r) {
  const c = el("div", undefined, "card");
  c.dataset.role = r[C.role]; c.dataset.agent = r[C.agent];
  c.append(el("h4", r[C.role] + ": " + r[C.agent]));
  const dl = el("dl");
  const add = (k, v) => { dl.append(el("dt", k)); const d = el("dd"); d.append(v); dl.append(d); };
  add("target", el("span", r[C.target_agent]));
  add("target's answer", el("pre", shownValue(r[C.object_response])));
  add("target value", el("pre", shownValue(r[C.target_value])));
  add("hypothetical answer", el("pre", shownValue(r[C.hypothetical_response])));
  add("prediction", el("pre", shownValue(r[C.prediction])));
  add("correct", r[C.scored] ? yesNo(r[C.correct]) : el("span", "not scored", "none"));
  if (r[C.role] === "shift") {
    add("old answer (" + r[C.old_agent] + ")", el("pre", shownValue(r[C.old_response])));
    add("old value \\u2192 new value",
        el("span", shownValue(r[C.old_value]) + " \\u2192 " + shownValue(r[C.target_value])));
    add("changed", yesNo(r[C.changed]));
  }
  c.append(dl);
  return c;
}
function openItem(row) {
  const item = DATA.items[row[C.item]];
  const detail = document.getElementById("detail");
  const close = el("button", "close");
  close.id = "close";
  close.addEventListener("click", () => { detail.hidden = true; });
  const same = DATA.rows.filter(r => r[C.item] === row[C.item]
                                     && r[C.target_model] === row[C.target_model]);
  const props = [...new Set(same.map(r => r[C.property]))];
  props.sort((a, b) => (b === row[C.property]) - (a === row[C.property]));
  const parts = [close, el("h2", item.task + " / " + item.item_id + " (target model "
                           + row[C.target_model] + ")"),
                 chat("object-level chat", item.object)];
  for (const p of props) {
    const section = el("section", undefined, "property");
    section.dataset.property = p;
    section.append(el("h3", "property: " + p),
                   chat("hypothetical chat", item.hypothetical[p] || []));
    const cards = el("div", undefined, "cards");
    for (const r of same.filter(r => r[C.property] === p)) cards.append(card(r));
    section.append(cards);
    parts.push(section);
  }
  detail.replaceChildren(...parts);
  detail.hidden = false;
  detail.scrollTop = 0;
}
document.addEventListener("keydown", e => {
  if (e.key === "Escape") document.getElementById("detail").hidden = true;
});
render();
</script>
</body>
</html>
"""
