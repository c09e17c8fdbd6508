"""Presets: whole ``params.yaml`` files for a named protocol, written by ``inward init``.

``paper`` is the paper's protocol over its dataset release (``config/presets/paper.yaml``;
docs/PAPER.md compares it with the paper and with the laptop default). The release is the
user's copy: ``inward init --preset paper --release DIR`` writes its path into
``tasks.files.paper.path`` and checks the file like ``inward check-params``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PRESETS = ("paper",)
RELEASE_PLACEHOLDER = "RELEASE"  # the path the paper preset leaves to the user


def preset_text(name: str) -> str:
    """The preset's YAML as shipped (comments kept)."""
    if name not in PRESETS:
        raise ValueError(f"--preset: unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    return resources.files("inward.config").joinpath("presets", f"{name}.yaml").read_text()


def render_preset(name: str, release: str | Path | None) -> str:
    """The preset with the user's release folder filled in (the paper's needs one)."""
    text = preset_text(name)
    placeholder = f"path: {RELEASE_PLACEHOLDER},"
    if placeholder not in text:
        return text
    if release is None:
        raise ValueError(f"--release: the {name!r} preset reads the paper's dataset release; "
                         "name your copy of its dataset_release/ folder (train/ and test/)")
    folder = Path(release).expanduser()
    if not folder.is_dir():
        raise ValueError(f"--release: {str(release)!r} is not a folder; expected the paper's "
                         "dataset_release/ folder (train/ and test/)")
    return text.replace(placeholder, f"path: {_yaml_string(str(folder.resolve()))},")


def _yaml_string(s: str) -> str:
    """A YAML double-quoted scalar (a path may hold spaces, colons or '#')."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_preset(name: str, out: str | Path, release: str | Path | None = None,
                 force: bool = False) -> Path:
    """Write the preset to ``out``; an existing file is kept unless ``force``."""
    out = Path(out)
    text = render_preset(name, release)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; pass --force to replace it, or --out FILE")
    out.write_text(text)
    return out
