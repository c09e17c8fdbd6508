"""Training and validation loss of every finetune: one CSV per adapter (what ``dvc plots``
draws) and one altair figure of all of them.

Each local adapter folder holds ``loss_curve.csv`` (step, train_loss, val_loss: see
``inward.lora``); a hosted finetune keeps its curves with the provider and contributes none.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import altair as alt
import polars as pl


def collect(adapters: list[str], out_dir: str) -> list[Path]:
    """Copy each adapter's loss curve to ``out_dir/<agent>.csv``; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for adapter in sorted(adapters):
        curve = Path(adapter) / "loss_curve.csv"
        if curve.is_file():
            dest = out / f"{Path(adapter).name}.csv"
            shutil.copyfile(curve, dest)
            written.append(dest)
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


def loss_curves(adapters: list[str], out_dir: str, figure: str, page: str) -> None:
    """The ``loss_curves`` rule: per-adapter CSVs, ``figure`` (PNG) and ``page`` (HTML)."""
    curves = collect(adapters, out_dir)
    fig = chart(long_frame(curves), PANEL["width"], PANEL["height"])
    Path(figure).parent.mkdir(parents=True, exist_ok=True)
    fig.save(page, inline=True)
    fig.save(figure, scale_factor=PANEL["scale"])
