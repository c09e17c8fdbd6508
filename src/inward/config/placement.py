"""What a model job asks of the machine it runs on, read from the model's params entry.

GPUs come from the model's ``gpus`` key in ``params.yaml`` (local models only; 0 when absent),
never from the submitting host's environment: on a cluster the login node that plans the jobs
has no GPU, and the node that runs them is chosen after the request is made.
"""

from __future__ import annotations


def gpus_of(model_cfg: dict) -> int:
    """GPUs one job of this model requests (the Snakemake resource ``gpu``)."""
    if model_cfg.get("backend") != "local":
        return 0  # a hosted model computes elsewhere
    return int(model_cfg.get("gpus", 0))


def gpu_problems(name: str, model_cfg: dict) -> list[str]:
    """A ``gpus`` request that cannot be honoured, one message per problem."""
    gpus = model_cfg.get("gpus", 0)
    if not gpus:
        return []
    key = f"models.{name}.gpus"
    if model_cfg.get("backend") != "local":
        return [(f"{key}: {gpus} asked of a hosted model ({model_cfg.get('backend')!r} backend); "
                "only local models run on GPUs: remove the key or set it to 0")]
    device = model_cfg.get("device", "auto")
    if device in ("cpu", "mps"):
        return [(f"{key}: {gpus} asked but models.{name}.device is {device!r}; allowed with "
                "gpus > 0: auto, cuda, cuda:N")]
    return []
