"""The ``inward serve`` subcommand (the CLI owner wires it with ``add_serve_parser``), also
runnable as ``python -m inward.serve.cli`` (how ``serve.LoopbackServer`` starts a server)."""

from __future__ import annotations

import argparse
import logging


def add_serve_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--model", action="append", required=True, metavar="NAME=SOURCE",
                   help="serve local model SOURCE (e.g. embedded:smollm2-135m) as NAME; repeat "
                        "for several models")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log-requests", metavar="FILE", default=None,
                   help="append one JSON line per request (path, model, messages hash, status)")
    p.add_argument("--data-dir", default=None,
                   help="uploaded files, finetuning jobs and adapters "
                        "(default $INWARD_CACHE/serve, else ~/.cache/inward/serve)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--parallel", type=int, default=1, metavar="N",
                   help="requests computed at once (default 1); with --threads 1, N requests "
                        "use N cores and answer exactly as one at a time would")
    p.add_argument("--lazy", action="store_true",
                   help="load base models on first use instead of before serving")
    p.add_argument("--require-key", default=None, metavar="KEY",
                   help="answer 401 unless 'Authorization: Bearer KEY'")
    p.add_argument("--fail-first", type=int, default=0, metavar="N",
                   help="fault injection: the first N chat requests fail with --fail-status")
    p.add_argument("--fail-status", type=int, default=429)
    p.add_argument("--log-level", default="INFO")
    return p


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("serve", help="OpenAI-compatible server over local models",
                              description="OpenAI-compatible loopback server over the local "
                                          "backend: chat completions, files, fine-tuning jobs.")
    add_serve_arguments(p)
    p.set_defaults(func=run_serve)
    return p


def run_serve(args: argparse.Namespace) -> int:
    from inward.serve.app import parse_model_arg, serve

    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    models: dict[str, dict] = {}
    for spec in args.model:
        name, cfg = parse_model_arg(spec)
        if name in models:
            raise SystemExit(f"--model {name} given twice")
        models[name] = cfg
    serve(models, host=args.host, port=args.port, log_requests=args.log_requests,
          data_dir=args.data_dir, require_key=args.require_key, fail_first=args.fail_first,
          fail_status=args.fail_status, threads=args.threads, preload=not args.lazy,
          parallel=args.parallel)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m inward.serve.cli",
                                     description="OpenAI-compatible loopback server over the "
                                                 "local backend.")
    add_serve_arguments(parser)
    run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    main()
