"""``inward serve`` (the CLI owner wires it with ``add_serve_parser``), also runnable as
``python -m inward.serve.cli`` (how ``inward.serve.launcher.LoopbackServer`` starts a server):
the arguments, then :func:`serve`, which builds the server's state and runs the app on uvicorn.

    python -m inward.serve.cli --model smollm2=embedded:smollm2-135m \\
        [--model gemma=embedded:gemma3-270m] [--host 127.0.0.1] [--port 8000] \\
        [--log-requests requests.jsonl] [--data-dir DIR] [--threads N] \\
        [--parallel N] [--require-key KEY] [--fail-first N --fail-status 429] [--lazy]
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inward.config.types import ModelConfig

log = logging.getLogger(__name__)


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
    p.add_argument("--fail-retry-after", default=None, metavar="SECONDS",
                   help="the Retry-After header of an injected failure (seconds or an HTTP date)")
    p.add_argument("--vary-first", type=int, default=0, metavar="N",
                   help="fault injection: the first N greedy requests for n > 1 answers get n "
                        "different answers, as from a hosted model whose greedy decoding is "
                        "not deterministic (tests of mode-of-n)")
    p.add_argument("--log-level", default="INFO")
    return p


def add_serve_parser(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = subparsers.add_parser("serve", help="OpenAI-compatible server over local models",
                              description="OpenAI-compatible loopback server over the local "
                                          "backend: chat completions, files, fine-tuning jobs, "
                                          "and vLLM's runtime LoRA loading.")
    add_serve_arguments(p)
    p.set_defaults(func=run_serve)
    return p


def run_serve(args: argparse.Namespace) -> int:
    from inward.serve.models import parse_model_arg

    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    models: dict[str, ModelConfig] = {}
    for spec in args.model:
        name, cfg = parse_model_arg(spec)
        if name in models:
            raise SystemExit(f"--model {name} given twice")
        models[name] = cfg
    serve(models, host=args.host, port=args.port, log_requests=args.log_requests,
          data_dir=args.data_dir, require_key=args.require_key, fail_first=args.fail_first,
          fail_status=args.fail_status, threads=args.threads, preload=not args.lazy,
          parallel=args.parallel, vary_first=args.vary_first,
          fail_retry_after=args.fail_retry_after)
    return 0


def serve(models: Mapping[str, ModelConfig], host: str = "127.0.0.1", port: int = 8000,
          log_requests: str | Path | None = None, data_dir: str | Path | None = None,
          require_key: str | None = None, fail_first: int = 0, fail_status: int = 429,
          threads: int | None = None, preload: bool = False, parallel: int = 1,
          vary_first: int = 0, fail_retry_after: str | None = None) -> None:
    """Serve ``models`` until interrupted; files and jobs under ``data_dir`` (default
    ``$INWARD_CACHE/serve``), so a finetuned model stays servable across restarts."""
    # the server's extras load only here: ``inward`` offers this subcommand without them
    import uvicorn

    from inward.serve.app import create_app
    from inward.serve.state import ServerState

    if data_dir is None:
        from inward.backends.response_cache import cache_dir
        data_dir = cache_dir() / "serve"
    if threads:
        import torch
        torch.set_num_threads(int(threads))
    state = ServerState(models, Path(data_dir), Path(log_requests) if log_requests else None,
                        require_key, fail_first, fail_status, threads, parallel=parallel,
                        vary_first=vary_first, fail_retry_after=fail_retry_after)
    if preload:
        for name in models:
            state.models.backend(name)
    log.info("serving %s on http://%s:%d/v1 (data %s)", state.models.ids(), host, port,
             state.data_dir)
    uvicorn.run(create_app(state), host=host, port=port, log_level="warning")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m inward.serve.cli",
                                     description="OpenAI-compatible loopback server over the "
                                                 "local backend.")
    add_serve_arguments(parser)
    run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    main()
