"""Training and validation loss of every finetune: one CSV per adapter (what ``dvc plots``
draws) and one altair figure of all of them.

Each local adapter folder holds ``loss_curve.csv`` (step, train_loss, val_loss: see
``inward.backends.lora``); a hosted finetune keeps its curves with the provider, so its CSV holds
the header only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import altair as alt
import polars as pl

HEADER = "step,train_loss,val_loss\n"


def collect(adapters: list[str], curves: list[str]) -> list[Path]:
    """Copy each adapter's loss curve to the CSV of the same agent name in ``curves`` (the
    header alone where the adapter has none); returns the CSVs that hold a curve."""
    dest = {Path(c).stem: Path(c) for c in curves}
    written = []
    for adapter in sorted(adapters):
        out = dest[Path(adapter).name]
        out.parent.mkdir(parents=True, exist_ok=True)
        curve = Path(adapter) / "loss_curve.csv"
        if curve.is_file():
            shutil.copyfile(curve, out)
            written.append(out)
        else:
            out.write_text(HEADER)
    return written


def long_frame(curves: list[Path]) -> pl.DataFrame:
    """agent, step, split (training/validation), loss: one row per logged point."""
    parts = []
    for path in curves:
        df = pl.read_csv(path, schema_overrides={"train_loss": pl.Float64, "val_loss": pl.Float64})
        parts.append(df.unpivot(index="step", on=["train_loss", "val_loss"],
                                variable_name="split", value_name="loss")
                     .with_columns(pl.lit(path.stem).alias("agent")))
    if not parts:
        return pl.DataFrame(schema={"step": pl.Int64, "split": pl.Utf8, "loss": pl.Float64,
                                    "agent": pl.Utf8})
    return (pl.concat(parts).drop_nulls("loss")
            .with_columns(pl.col("split").replace({"train_loss": "training",
                                                   "val_loss": "validation"})))


def chart(frame: pl.DataFrame, width: int, height: int):
    if frame.is_empty():  # hosted finetunes only: their curves stay with the provider
        note = pl.DataFrame({"note": ["No local finetune: no loss curves to draw."]})
        return alt.Chart(note).mark_text().encode(text="note:N").properties(
            width=width, height=height // 2)
    return (alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("step:Q", title="optimiser step"),
        y=alt.Y("loss:Q", title="loss per assistant token"),
        color=alt.Color("split:N", title=None),
        tooltip=["agent", "split", "step", alt.Tooltip("loss:Q", format=".3f")])
        .properties(width=width, height=height)
        .facet(facet=alt.Facet("agent:N", title=None), columns=3)
        .properties(title="Finetuning loss: training (mean since the last check) and validation"))


# One small panel per finetune, of a fixed size: the figure depends on the finetunes only, so a
# change of the ``plots`` params redraws the study's figures without touching it.
PANEL = {"width": 220, "height": 140, "scale": 2}


def loss_curves(adapters: list[str], curve_files: list[str], figure: str, page: str) -> None:
    """The ``loss_curves`` rule: per-adapter CSVs, ``figure`` (PNG) and ``page`` (HTML)."""
    curves = collect(adapters, curve_files)
    fig = chart(long_frame(curves), PANEL["width"], PANEL["height"])
    Path(figure).parent.mkdir(parents=True, exist_ok=True)
    fig.save(page, inline=True)
    fig.save(figure, scale_factor=PANEL["scale"])
