"""The served backend: answers from an OpenAI-compatible server of one's own (vLLM), finetunes
here with peft, each new adapter loaded into the server before its answers are asked for.

Answers go through :class:`inward.backends.hosted.OpenAIBackend` (greedy answers, samples,
first-token distributions from ``top_logprobs``, retries, the response cache, accounting).
Finetunes are local LoRA (:func:`inward.backends.lora.finetune_lora` on the config's
``source``, the same weights as the served ``model``). An agent with an adapter is answered by
the server under the adapter's own name: the backend first posts ``{"lora_name", "lora_path"}``
to ``/v1/load_lora_adapter`` (vLLM started with ``--enable-lora`` and
``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``; ``inward serve`` has the same route), then asks for
``model=<lora_name>``.

The name is the agent (the adapter folder's name, e.g. ``smollm2__self``) and the first 12 hex
digits of the adapter's content hash: a retrained adapter gets a new name, so neither the server
(which refuses a name twice) nor the response cache (keyed by model name) can answer with the
old weights. The server reads ``lora_path`` itself: it must see this machine's path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from inward.backends.hosted import OpenAIBackend, OpenAIBackendError, Retrier
from inward.config.types import LoraHparams, ModelConfig

LOAD, UNLOAD = "/load_lora_adapter", "/unload_lora_adapter"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
DIGITS = 12
"""Hex digits of the adapter's hash in its served name."""


class AdapterLoadError(OpenAIBackendError):
    """The server would not load an adapter (no runtime loading, or the path is not its)."""


def adapter_name(adapter: str | Path) -> str:
    """``<agent>-<hash>``: the adapter folder's name and the hash of its weights and config."""
    folder = Path(adapter)
    digest = hashlib.sha256()
    for name in ADAPTER_FILES:
        path = folder / name
        if not path.is_file():
            raise AdapterLoadError(f"{folder}: no {name}; a served model's adapter is a peft "
                                   f"LoRA folder as the finetune step writes it")
        digest.update(path.read_bytes())
    return f"{folder.name}-{digest.hexdigest()[:DIGITS]}"


class ServedBackend(OpenAIBackend):
    """Backend protocol over a server of one's own; adapters are loaded into it by name."""

    key_required = False  # vLLM started without --api-key takes any key

    def model_for(self, adapter: str | Path) -> str:
        """Load ``adapter`` into the server (once: a name it already holds is fine) and return
        the name its answers are asked for under."""
        import httpx
        import openai

        name = adapter_name(adapter)
        body = {"lora_name": name, "lora_path": str(Path(adapter).resolve())}

        def post() -> None:
            try:
                self.client.post(LOAD, body=body, cast_to=httpx.Response)
            except openai.BadRequestError as err:
                # vLLM: "The lora adapter '<name>' has already been loaded." (another job)
                if "already" not in str(err):
                    raise

        retry = Retrier(self.cfg, name, self.base_url, sleep=self.sleep)  # self.retry: later
        try:
            retry(post, what=f"loading LoRA adapter {name!r}")
        except OpenAIBackendError as err:
            if isinstance(err.__cause__, openai.NotFoundError):
                raise AdapterLoadError(
                    f"{self.base_url}{LOAD} refused adapter {name!r} ({err.__cause__}): either "
                    f"the server has no runtime LoRA loading (start vLLM with --enable-lora "
                    f"and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True) or it cannot read "
                    f"{body['lora_path']} (the server must see this machine's path)") from err
            raise
        return name

    def unload(self) -> None:
        """Unload this backend's adapter from the server (nothing for the base model); an
        adapter the server no longer holds is fine."""
        import httpx
        import openai

        if self.model == self.cfg.model:
            return

        def post() -> None:
            try:
                self.client.post(UNLOAD, body={"lora_name": self.model}, cast_to=httpx.Response)
            except openai.NotFoundError:
                pass

        self.retry(post, what=f"unloading LoRA adapter {self.model!r}")

    @staticmethod
    def finetune(cfg: ModelConfig, train_jsonl, out_dir, hparams: LoraHparams,
                 init_adapter=None, seed: int = 0, threads: int | None = None,
                 val_jsonl=None) -> dict:
        """Local LoRA on ``cfg.source``, exactly as the local backend trains."""
        from inward.backends.local import LocalBackend

        return LocalBackend.finetune(cfg, train_jsonl, out_dir, hparams,
                                     init_adapter=init_adapter, seed=seed, threads=threads,
                                     val_jsonl=val_jsonl)
