"""Loss curves of the finetunes: collected per adapter, drawn as one figure."""

from pathlib import Path

import polars as pl

from inward.pipeline import steps
from inward.reporting.loss_curves import collect, long_frame


def _adapter(root, name, rows):
    d = root / name
    d.mkdir(parents=True)
    (d / "loss_curve.csv").write_text("step,train_loss,val_loss\n" + "".join(
        f"{s},{t},{v}\n" for s, t, v in rows))
    return str(d)


def test_collect_and_long_frame(tmp_path):
    a = _adapter(tmp_path / "adapters", "m__self", [(0, "", 2.5), (4, 2.0, 1.5)])
    b = str(tmp_path / "adapters" / "m__hosted")  # a hosted finetune has no curve
    (tmp_path / "adapters" / "m__hosted").mkdir()
    out = tmp_path / "curves"
    files = collect([b, a], [str(out / "m__hosted.csv"), str(out / "m__self.csv")])
    assert [f.name for f in files] == ["m__self.csv"]
    assert (out / "m__hosted.csv").read_text() == "step,train_loss,val_loss\n"
    frame = long_frame(files).sort("split", "step")
    assert frame.select("agent", "step", "split", "loss").rows() == [
        ("m__self", 4, "training", 2.0), ("m__self", 0, "validation", 2.5),
        ("m__self", 4, "validation", 1.5)]


def test_loss_curves_step_writes_csvs_figure_and_page(tmp_path):
    adapters = [_adapter(tmp_path, n, [(0, "", 3.0), (2, 2.5, 2.0), (4, 2.0, 1.8)])
                for n in ("a__self", "b__cross__a")]
    steps.loss_curves(adapters=adapters, curves=[str(tmp_path / "curves" / f"{n}.csv")
                                                 for n in ("a__self", "b__cross__a")],
                      figure=str(tmp_path / "loss.png"), page=str(tmp_path / "loss.html"))
    assert sorted(p.name for p in (tmp_path / "curves").iterdir()) == ["a__self.csv",
                                                                      "b__cross__a.csv"]
    assert pl.read_csv(tmp_path / "curves" / "a__self.csv")["val_loss"].to_list() == [3.0, 2.0, 1.8]
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert "b__cross__a" in (tmp_path / "loss.html").read_text()


def test_hosted_finetunes_only_give_header_csvs_and_a_figure(tmp_path):
    """Hosted finetunes have no local curve: each CSV is the header, the figure still draws."""
    adapters = []
    for n in ("a__self", "b__cross__a"):
        (tmp_path / n).mkdir()
        (tmp_path / n / "finetuned_model.json").write_text("{}")
        adapters.append(str(tmp_path / n))
    curves = [str(tmp_path / "curves" / f"{n}.csv") for n in ("a__self", "b__cross__a")]
    steps.loss_curves(adapters=adapters, curves=curves, figure=str(tmp_path / "loss.png"),
                      page=str(tmp_path / "loss.html"))
    assert all(Path(c).read_text() == "step,train_loss,val_loss\n" for c in curves)
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
