"""``inward``: the command line of the study.

- ``inward init --preset paper --release DIR``  write a params.yaml for the paper's protocol
                                   over the user's copy of its dataset release, and check it;
- ``inward check-params [FILE]``   validate params.yaml and say what is wrong;
- ``inward show-prompts [--params FILE]``  print every chat the study would send, as JSONL
                                   (runs no model, writes nothing);
- ``inward run [-c N] [SNAKEMAKE ARGS]``  validate, then run the DAG with Snakemake;
- ``inward restore``               after ``dvc checkout``/``dvc pull``: mark outputs up to date for
                                   Snakemake so it does not redo restored work;
- ``inward stage [SNAKEMAKE ARGS]``  DVC's study stage: Snakemake, after repairing a DVC
                                   experiment's temporary workspace
                                   (``inward.pipeline.exp_workspace``);
- ``inward serve ...``             OpenAI-compatible server over the local models.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from inward.config.loading import ParamsError, load_params

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DVC_NO_ANALYTICS": "1"}


def _env() -> dict:
    """Offline settings, and this interpreter's scripts folder first on PATH so the rules'
    shell commands (dvc, snakemake) are the ones installed beside inward."""
    bindir = os.path.dirname(sys.executable)
    return {**os.environ, **OFFLINE_ENV, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}


def cmd_check(args) -> int:
    try:
        load_params(args.params)
    except ParamsError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"{args.params}: ok")
    return 0


def cmd_init(args) -> int:
    """Write a preset's params.yaml, then check it as ``check-params`` does: a model's missing
    API-key variable is reported, not hidden."""
    from inward.config.preset import write_preset

    try:
        out = write_preset(args.preset, args.out, args.release, args.force)
    except (ValueError, FileExistsError) as err:
        print(err, file=sys.stderr)
        return 2
    print(f"{out}: the {args.preset!r} preset (docs/PAPER.md); replace its models with yours")
    args.params = str(out)
    return cmd_check(args)


def cmd_show_prompts(args) -> int:
    from inward.pipeline.study_prompts import write_study_chats

    try:
        params = load_params(args.params, check_inputs=False)
        write_study_chats(params)
    except (ParamsError, ValueError, OSError) as err:
        print(err, file=sys.stderr)
        return 2
    return 0


def cmd_run(args, extra: list[str]) -> int:
    if cmd_check(args):
        return 2
    return subprocess.call([sys.executable, "-m", "snakemake", "--cores", str(args.cores), *extra],
                           env=_env())


def cmd_restore(args) -> int:
    """Restored files get fresh mtimes in arbitrary order; --touch makes Snakemake accept them."""
    if not args.no_checkout:
        rc = subprocess.call([sys.executable, "-m", "dvc", "checkout"], env=_env())
        if rc:
            return rc
    return subprocess.call([sys.executable, "-m", "snakemake", "--cores", "1", "--touch",
                            "--quiet", "all"], env=_env())


def cmd_stage(extra: list[str]) -> int:
    """The command of dvc.yaml's stage. In a temporary workspace of ``dvc exp run --queue`` or
    ``--temp``, Snakemake's metadata and modification times are first made those of the
    workspace the experiment was copied from, so Snakemake reruns what the experiment changed
    and nothing else."""
    from inward.pipeline.exp_workspace import prepare

    prepare(".", say=lambda msg: print(f"[inward] {msg}", file=sys.stderr, flush=True))
    return subprocess.call([sys.executable, "-m", "snakemake", *extra], env=_env())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="inward", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="write params.yaml from a preset (paper: the paper's "
                       "protocol over its dataset release), then check it")
    p.add_argument("--preset", required=True, help="paper")
    p.add_argument("--release", help="your copy of the paper's dataset_release/ folder")
    p.add_argument("--out", default="params.yaml")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p = sub.add_parser("check-params", help="validate params.yaml")
    p.add_argument("params", nargs="?", default="params.yaml")
    p = sub.add_parser("show-prompts", help="print every chat the study would send (JSONL: "
                       "split, task, item_id, property, messages); runs no model")
    p.add_argument("--params", default="params.yaml")
    p = sub.add_parser("run", help="validate params, then run the study with Snakemake")
    p.add_argument("-c", "--cores", default="all")
    p.add_argument("--params", default="params.yaml")
    p = sub.add_parser("restore", help="dvc checkout, then mark outputs current for Snakemake")
    p.add_argument("--no-checkout", action="store_true", help="only touch (after dvc pull)")
    sub.add_parser("stage", help="DVC's study stage: Snakemake, in a DVC experiment's "
                                 "temporary workspace too")
    try:
        from inward.serve.cli import add_serve_parser
        add_serve_parser(sub)
    except ImportError:  # server extras missing
        pass
    args, extra = parser.parse_known_args(argv)
    if args.command == "run":
        return cmd_run(args, extra)
    if args.command == "stage":
        return cmd_stage(extra)
    if extra:
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    if args.command == "check-params":
        return cmd_check(args)
    if args.command == "init":
        return cmd_init(args)
    if args.command == "show-prompts":
        return cmd_show_prompts(args)
    if args.command == "restore":
        return cmd_restore(args)
    from inward.serve.cli import run_serve
    return run_serve(args) or 0


if __name__ == "__main__":
    sys.exit(main())
