"""Run the tiny study of a checkout in a fresh git + DVC repo and print the md5 of every file
DVC tracks: the check that a refactor leaves outputs byte for byte as they were.

    python benchmarks/tiny_study_hashes.py CHECKOUT OUT_DIR

Run it on the commit before and the commit after a change (each checkout with the virtual
environment's inward pointing at it, e.g. ``pip install -e CHECKOUT``), then compare the two
``OUT_DIR/hashes.json``. Model jobs get one torch thread each (``--cores 2``), as in the tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(checkout: Path, out: Path) -> dict[str, str]:
    for sub in ("tests/support", "tests"):  # where e2e_support lives (it moved once)
        if (checkout / sub / "e2e_support.py").exists():
            sys.path.insert(0, str(checkout / sub))
            break
    import e2e_support

    e2e_support.ROOT = checkout
    out.mkdir(parents=True, exist_ok=True)
    repo = e2e_support.new_study_repo(out / "repo")
    e2e_support.sh("umask 022 && snakemake --cores 2", repo)
    files = e2e_support.tracked_files(repo)
    (out / "hashes.json").write_text(json.dumps(files, indent=1, sort_keys=True) + "\n")
    return files


if __name__ == "__main__":
    hashes = main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
    for path, md5 in sorted(hashes.items()):
        print(md5, path)
    print(len(hashes), "tracked files")
