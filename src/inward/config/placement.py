"""What a model job asks of the machine it runs on, read from the model's params entry.

GPUs come from the model's ``gpus`` key in ``params.yaml`` (local models only; 0 when absent),
never from the submitting host's environment: on a cluster the login node that plans the jobs
has no GPU, and the node that runs them is chosen after the request is made.
"""

from __future__ import annotations

from inward.config.types import ModelConfig


def gpus_of(model: ModelConfig) -> int:
    """GPUs one job of this model requests (the Snakemake resource ``gpu``)."""
    return model.gpu_request


def gpu_problems(name: str, model: ModelConfig) -> list[str]:
    """A ``gpus`` request that cannot be honoured, one message per problem."""
    if not model.gpus:
        return []
    key = f"models.{name}.gpus"
    if not model.trains_locally:
        return [(f"{key}: {model.gpus} asked of a hosted model ({model.backend!r} backend); "
                "only local and served models (whose finetunes run here) use GPUs: remove the "
                "key or set it to 0")]
    if model.device in ("cpu", "mps"):
        return [(f"{key}: {model.gpus} asked but models.{name}.device is {model.device!r}; "
                 "allowed with gpus > 0: auto, cuda, cuda:N")]
    return []


def device_map_problems(name: str, model: ModelConfig) -> list[str]:
    """A ``device_map`` that has no weights to place here, or that contradicts ``device``."""
    if not model.device_map:
        return []
    key = f"models.{name}.device_map"
    if not model.trains_locally:
        return [f"{key}: {model.device_map!r} set on a hosted model ({model.backend!r} "
                "backend), whose weights are not loaded here; allowed on local and served "
                "models only"]
    if model.device in ("cpu", "mps"):
        return [f"{key}: {model.device_map!r} spreads layers over GPUs but models.{name}.device "
                f"is {model.device!r}; allowed with device_map: device auto, cuda or cuda:N "
                "(or remove device_map)"]
    return []
