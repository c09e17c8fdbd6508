"""One function per Snakemake rule: files in, files out.

Each rule's ``script:`` is ``workflow/scripts/<function>.py``, which calls ``run_step`` with the
function of the same name: it passes the rule's named inputs, outputs and params as keyword
arguments plus ``threads``. Every function here is
usable and tested without Snakemake.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
import typing
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from inward.config.types import (
    CalibrationConfig,
    GenerationConfig,
    LoraHparams,
    ModelConfig,
    PlotsConfig,
    plain,
)
from inward.pipeline import checkpoint
from inward.pipeline.checkpoint import CallSettings
from inward.records import jsonl
from inward.records.jsonl import honour_umask, read_jsonl, write_jsonl
from inward.records.progress import Progress
from inward.scoring.frames import object_values
from inward.sft import recipes
from inward.tasks import prompts
from inward.tasks.catalog import Item
from inward.tasks.prompts import study_pairs


def load_items(path: str | Path) -> list[Item]:
    return [Item.from_dict(r) for r in read_jsonl(path)]


def _log(msg: str) -> None:
    print(f"[inward] {msg}", file=sys.stderr, flush=True)


# --- prompts -----------------------------------------------------------------------------------
def build_items(*, item_file: str, split: str, task_names: list, n_items: int, seed: int,
                files: dict | None = None, task_files: list | None = None,
                threads: int = 1) -> None:
    """Generate the items of one split: training tasks (``train``) or held-out tasks (``test``).

    Each split is its own rule so that changing, say, the number of held-out items does not
    touch the training items and the finetunes built on them. ``files`` maps the split's file
    tasks to their sources (``inward.tasks.task_files``); ``task_files`` (the files themselves) are
    the rule's inputs, named here only so that Snakemake reruns the split when one changes.
    """
    from inward.tasks.task_files import split_items

    its = split_items(split, task_names, n_items, seed, files or {})
    write_jsonl([it.to_dict() for it in its], item_file)
    _log(f"{len(its)} {split} items -> {item_file}")


def build_extra_items(*, item_file: str, split: str, counts: dict, offsets: dict, seed: int,
                      files: dict | None = None, task_files: list | None = None,
                      threads: int = 1) -> None:
    """The items of the ``shift`` split (new prompts the shift's source answers) or the
    ``calibration`` split (the calibration variant's prompts): ``counts[task]`` prompts per
    task, after the ``offsets[task]`` that the study's other splits take
    (``Params.extra_split``), so that none is a training or held-out prompt."""
    from inward.tasks.task_files import extra_items

    its = extra_items(split, counts, offsets, seed, files or {})
    write_jsonl([it.to_dict() for it in its], item_file)
    _log(f"{len(its)} {split} items -> {item_file}")


def held_in_items(*, item_file: str, task_names: list, n_train_items: int, n_items: int,
                  seed: int, files: dict | None = None, task_files: list | None = None,
                  threads: int = 1) -> None:
    """The held-in items (``tasks.n_held_in_items``): ``n_items`` new prompts of every training
    task, drawn after its ``n_train_items`` training prompts (``inward.tasks.held_in``);
    ``files``: the training tasks' sources (a user's JSONL task gives none); ``task_files``
    (the files themselves) are the rule's inputs, named only so that an edit reruns it."""
    from inward.tasks.held_in import held_in_items as draw

    its = draw(task_names, n_train_items, n_items, seed, files)
    write_jsonl([it.to_dict() for it in its], item_file)
    _log(f"{len(its)} held-in items -> {item_file}")


# --- model calls -------------------------------------------------------------------------------
def answer_record(item: Item, response: str | None, prop: str | None = None) -> dict:
    """One answer row. A hosted model's mode of n answers that all differed has no answer
    (None): the row is marked ``"dropped": "mode_of_n"``, and scoring leaves it out and
    counts it, as the paper drops such prompts."""
    row = {"task": item.task, "item_id": item.item_id}
    if prop is not None:
        row["property"] = prop
    row["response"] = response
    if response is None:
        row["dropped"] = "mode_of_n"
    return row


def _model_calls(model: ModelConfig, adapter: str | None, threads: int, out: str,
                 requests: list[list[dict]], settings: CallSettings,
                 call: Callable[[object, list[list[dict]]], list], chunk_size: int) -> list:
    """Run ``call(backend, chats)`` over ``requests`` resumably, loading the model only if
    something is left to compute."""
    adapter_hash = checkpoint.file_digest(adapter)
    # the model entry as written: the keys of a finished study stay valid when defaults move
    keys = [checkpoint.request_key(plain(model.written), adapter_hash, settings.key(), chat)
            for chat in requests]
    backend = None
    # every chunk to the log, and to the terminal where Snakemake runs (records.progress)
    meter = Progress(out, len(requests), "prompts")
    fresh = 0  # prompts computed by this process (the rest came from the checkpoint)

    def run(chats):
        nonlocal backend, fresh
        if backend is None:
            from inward.backends import load_backend
            backend = load_backend(model, adapter=adapter, threads=threads)
        results = call(backend, chats)
        fresh += len(chats)
        return results

    def progress(done, total):
        meter.update(done, fresh)

    results = checkpoint.resumable_map(run, requests, keys, out, chunk_size, progress)
    if backend is not None and hasattr(backend, "stats"):  # hosted: tokens, cost, cache hits
        from inward.backends.accounting import usage_path, write_accounting
        write_accounting(backend.stats(), usage_path(out))
    return results


def object_answers(*, item_file: str, answers: str, model_cfg: ModelConfig,
                   gen: GenerationConfig, seed: int, adapter: str | None = None,
                   threads: int = 1) -> None:
    """Greedy object-level answers of one agent to every item of a split."""
    its = load_items(item_file)
    chats = [prompts.object_chat(it, gen.demonstration) for it in its]
    settings = CallSettings("object", gen.object_max_new_tokens, seed)
    out = _model_calls(model_cfg, adapter, threads, answers, chats, settings,
                       lambda b, c: b.generate(c, max_new_tokens=gen.object_max_new_tokens,
                                               temperature=0.0, seed=seed),
                       chunk_size=gen.batch_size)
    write_jsonl([answer_record(it, r)
                 for it, r in zip(its, out, strict=True)], answers)
    checkpoint.clear(answers)


def hypothetical_answers(*, item_file: str, answers: str, model_cfg: ModelConfig,
                         gen: GenerationConfig, props: list, seed: int,
                         adapter: str | None = None, threads: int = 1) -> None:
    """Greedy answers of one agent to the hypothetical question of every (item, property)."""
    pairs = study_pairs(load_items(item_file), props)
    chats = [prompts.hypothetical_chat(it, p) for it, p in pairs]
    settings = CallSettings("hypothetical", gen.hypothetical_max_new_tokens, seed)
    out = _model_calls(model_cfg, adapter, threads, answers, chats, settings,
                       lambda b, c: b.generate(c, max_new_tokens=gen.hypothetical_max_new_tokens,
                                               temperature=0.0, seed=seed),
                       chunk_size=gen.batch_size)
    write_jsonl([answer_record(it, r, p)
                 for (it, p), r in zip(pairs, out, strict=True)], answers)
    checkpoint.clear(answers)


def _answers_and_samples(model_cfg: ModelConfig, adapter: str | None, threads: int, out: str,
                         chats: list[list[dict]], kind: str, max_new_tokens: int,
                         calib: CalibrationConfig, batch_size: int,
                         seed: int) -> list[tuple[str, list[str]]]:
    """Per chat, the greedy answer and ``calib.n_samples`` answers at the calibration
    temperature, from one pass over the prompts (a local model prefills each prompt once for
    both), resumably; the checkpoint and the usage record are named after ``out``, the
    answers file."""
    from inward.backends import greedy_and_samples

    n, temperature = calib.n_samples, calib.temperature
    settings = CallSettings(kind, max_new_tokens, seed, n=n, temperature=temperature)
    out_rows = _model_calls(model_cfg, adapter, threads, out, chats, settings,
                            lambda b, c: [list(x) for x in greedy_and_samples(
                                b, c, n, max_new_tokens, temperature, seed)],
                            chunk_size=batch_size)
    return [(g, s) for g, s in out_rows]


def object_answers_and_samples(*, item_file: str, answers: str, samples: str,
                               model_cfg: ModelConfig, gen: GenerationConfig,
                               calib: CalibrationConfig, seed: int, adapter: str | None = None,
                               threads: int = 1) -> None:
    """The greedy object-level answer to every held-out item (as ``object_answers``) and
    ``n_samples`` sampled answers per item: the object-level distribution of the calibration
    MAD. One job, so each prompt is computed once."""
    its = load_items(item_file)
    chats = [prompts.object_chat(it, gen.demonstration) for it in its]
    out = _answers_and_samples(model_cfg, adapter, threads, answers, chats,
                               "object+samples", gen.object_max_new_tokens, calib,
                               gen.batch_size, seed)
    write_jsonl([answer_record(it, g)
                 for it, (g, _) in zip(its, out, strict=True)], answers)
    write_jsonl([{"task": it.task, "item_id": it.item_id, "samples": s}
                 for it, (_, s) in zip(its, out, strict=True)], samples)
    checkpoint.clear(answers)


def hypothetical_answers_and_samples(*, item_file: str, answers: str, samples: str,
                                     model_cfg: ModelConfig, gen: GenerationConfig,
                                     calib: CalibrationConfig, props: list, seed: int,
                                     adapter: str | None = None, threads: int = 1) -> None:
    """The greedy hypothetical answer of every (item, property) (as ``hypothetical_answers``)
    and ``n_samples`` sampled answers at the calibration temperature: the hypothetical-level
    distribution of the calibration MAD. One job, so each prompt is computed once."""
    pairs = study_pairs(load_items(item_file), props)
    chats = [prompts.hypothetical_chat(it, p) for it, p in pairs]
    out = _answers_and_samples(model_cfg, adapter, threads, answers, chats,
                               "hypothetical+samples", gen.hypothetical_max_new_tokens,
                               calib, gen.batch_size, seed)
    write_jsonl([answer_record(it, g, p)
                 for (it, p), (g, _) in zip(pairs, out, strict=True)], answers)
    write_jsonl([{"task": it.task, "item_id": it.item_id, "property": p, "samples": s}
                 for (it, p), (_, s) in zip(pairs, out, strict=True)], samples)
    checkpoint.clear(answers)


def variant_samples(*, item_file: str, samples: str, level: str, model_cfg: ModelConfig,
                    gen: GenerationConfig, calib: CalibrationConfig, prop: str, seed: int,
                    adapter: str | None = None, threads: int = 1) -> None:
    """The calibration variant's samples of one agent at one level (``object`` or
    ``hypothetical``): the greedy answer and ``calib.n_samples`` sampled ones per prompt of
    the variant's items, the hypothetical level asked about ``prop`` only. Sample i of a target
    and sample i of its predictor make the official script's pair i (``scoring.calibration``
    drops a pair whose object sample has no value)."""
    its = load_items(item_file)
    if level == "object":
        chats = [prompts.object_chat(it, gen.demonstration) for it in its]
        max_new = gen.object_max_new_tokens
    elif level == "hypothetical":
        chats = [prompts.hypothetical_chat(it, prop) for it in its]
        max_new = gen.hypothetical_max_new_tokens
    else:
        raise ValueError(f"variant_samples: level {level!r}; allowed: object, hypothetical")
    out = _answers_and_samples(model_cfg, adapter, threads, samples, chats,
                               f"variant-{level}+samples", max_new, calib, gen.batch_size,
                               seed)
    write_jsonl([{"task": it.task, "item_id": it.item_id,
                  **({"property": prop} if level == "hypothetical" else {}),
                  "response": g, "samples": smp}
                 for it, (g, smp) in zip(its, out, strict=True)], samples)
    checkpoint.clear(samples)


# --- finetuning data and finetunes -------------------------------------------------------------
def prediction_data(*, item_file: str, answers: str, data: str, props: list, cap: int, seed: int,
                    rule_set: str = "paper", threads: int = 1) -> None:
    """Self/cross-prediction finetuning data from a target agent's object-level answers, the
    labels read by the same rule set (``metrics.rules``) that scores them."""
    its = load_items(item_file)
    values = object_values(its, read_jsonl(answers), props, rule_set)
    # a space as the n-th character is the value "" (scored), but no answer to train on
    values = values.filter(pl.col("value") != "")
    examples = recipes.prediction_examples(its, values, props, cap, seed)
    recipes.write_chat_jsonl(examples, data)
    _log(f"{len(examples)} prediction examples -> {data}")


def object_data(*, item_file: str, answers: str, data: str, cap: int, seed: int,
                demonstration: bool, anchors_per_property: int = 0, props: list | None = None,
                rule_set: str = "paper", weight: float = 1.0, threads: int = 1) -> None:
    """Object-level finetuning examples from one model's answers to the training items: the
    trainee's own answers (replayed beside prediction examples so that self- and
    cross-training keep its behaviour), or another model's (the behaviour shift). The shift
    adds ``anchors_per_property`` questions about a quoted text per text property of
    ``props``: they keep the answer formats of the hypothetical questions and say nothing
    about any model's behaviour (``recipes.format_anchor_examples``). ``weight`` is the loss
    weight of the answers (``sft.replay_weight`` for the replay)."""
    its = load_items(item_file)
    responses = {(a["task"], a["item_id"]): a["response"] for a in read_jsonl(answers)}
    examples = (recipes.object_examples(its, responses, cap, seed, demonstration, weight)
                if cap else [])
    anchors = recipes.format_anchor_examples(list(props or []), anchors_per_property, seed,
                                         rule_set)
    recipes.write_chat_jsonl(examples + anchors, data)
    _log(f"{len(examples)} object-level examples"
         + (f" and {len(anchors)} anchor examples" if anchors else "") + f" -> {data}")


def training_data(*, sources: list, train: str, val: str, validation_fraction: float, seed: int,
                  threads: int = 1) -> None:
    """One finetune's training and validation sets, mixed from its example files."""
    parts = [read_jsonl(path) for path in ([sources] if isinstance(sources, str) else sources)]
    tr, va = recipes.train_validation_split(parts, validation_fraction, seed)
    recipes.write_chat_jsonl(tr, train)
    jsonl.write_jsonl(va, val)
    _log(f"{len(tr)} training and {len(va)} validation examples "
         f"(from {', '.join(f'{len(p)}' for p in parts)}) -> {train}, {val}")


def cross_subset(*, examples: str, data: str, share: float, seed: int,
                 threads: int = 1) -> None:
    """A nested, seeded share of one target's cross-prediction examples (``cross.scaling``):
    the prediction examples of a scaled cross finetune (``inward.sft.scaling``)."""
    from inward.sft.scaling import nested_subset

    rows = read_jsonl(examples)
    kept = nested_subset(rows, float(share), seed)
    recipes.write_chat_jsonl(kept, data)
    _log(f"{len(kept)} of {len(rows)} cross-prediction examples (share {share}) -> {data}")


def finetune(*, data: str, adapter_out: str, model_cfg: ModelConfig, hparams: LoraHparams,
             seed: int, val: str | None = None, init_adapter: str | None = None,
             threads: int = 1) -> None:
    """LoRA (local) or hosted (openai) finetune of one agent."""
    from inward.backends import finetune as run_finetune

    summary = run_finetune(model_cfg, data, adapter_out, hparams, init_adapter=init_adapter,
                           seed=seed, threads=threads, val_jsonl=val)
    _log(f"finetune -> {adapter_out}: {json.dumps(summary, default=str)}")


# --- evaluation and presentation ---------------------------------------------------------------
def evaluate(*, metrics: str, tables: str, models: list, test_items: str, props: list,
             calib: CalibrationConfig, n_boot: int, seed: int, rule_set: str = "paper",
             headline: str | None = None, scaling: list | None = None,
             held_in_items: str | None = None, shift_source: str | None = None,
             variant_items: str | None = None, threads: int = 1, **_inputs) -> None:
    """All metrics of the study -> metrics JSON, per-item tables and the headline numbers
    (``inward.reporting.headline``); ``scaling`` (``cross.scaling``) and ``held_in_items``
    (the held-in items file, None when off): the optional branches; ``shift_source``
    (``shift.source``) and ``variant_items`` (the calibration variant's items, None when off):
    the paper's shift and calibration protocols."""
    from inward.scoring.evaluation import evaluate_study

    evaluate_study(models=models, test_items=test_items, props=props, calib=calib,
                   n_boot=n_boot, seed=seed, metrics_path=metrics,
                   tables_dir=tables, rule_set=rule_set, scaling=tuple(scaling or ()),
                   held_in_items=held_in_items, shift_source=shift_source,
                   variant_items=variant_items)
    if headline:
        from inward.reporting.headline import write_headline

        write_headline(metrics, headline)


def figures(*, metrics: str, tables: str, figures: str, plot_cfg: PlotsConfig,
            threads: int = 1) -> None:
    from inward.reporting.plots import make_figures

    make_figures(metrics, tables, figures, plot_cfg)


def report(*, metrics: str, tables: str, figures: str, report: str, params_file: str,
           threads: int = 1) -> None:
    from inward.reporting.report import write_report

    write_report(metrics, tables, figures, report, params_file)


def loss_curves(*, adapters: list, curves: list, figure: str, page: str,
                threads: int = 1) -> None:
    """Every finetune's loss curve as CSV (DVC plots), one figure and one page."""
    from inward.reporting.loss_curves import loss_curves as draw

    def listed(x):
        return [x] if isinstance(x, str) else list(x)
    draw(listed(adapters), listed(curves), figure, page)


def benchmarks(*, answers: list, summary: str, jobs: list, threads: int = 1) -> None:
    """The model jobs' benchmark files in one table (for the Snakemake report)."""
    from inward.reporting.job_timings import summarise

    _log(f"{summarise([tuple(j) for j in jobs], summary)} benchmark files -> {summary}")


def transcripts(*, test_items: str, table: str, csv: str, page: str, models: list,
                props: list, demonstration: bool, rule_set: str = "paper",
                shift_source: str | None = None, scaling: list | None = None,
                threads: int = 1, **_answers) -> None:
    """Every held-out answer of the study, one row per (comparison, predictor, item,
    property), as parquet and CSV, and the offline page that browses it
    (``inward.reporting.transcripts``, ``inward.reporting.transcript_page``). ``_answers``:
    the answer files, inputs only so that Snakemake reruns this when one changes."""
    from inward.reporting.transcript_page import write_page
    from inward.reporting.transcripts import transcript_table, write_transcripts

    rows = transcript_table(models=models, test_items=test_items, props=props,
                            demonstration=demonstration, rule_set=rule_set,
                            shift_source=shift_source, scaling=scaling or ())
    write_transcripts(rows, table, csv)
    write_page(rows, page, f"Transcripts of the study of {', '.join(models)} "
                           f"({rows.height} rows, rule set {rule_set})")
    _log(f"{rows.height} transcript rows -> {table}, {csv}, {page}")


def typed_params(step: Callable[..., None], kwargs: dict) -> dict:
    """The one place where a rule's JSON-able params become typed configuration: a keyword
    whose annotation in ``step`` is a config type (``ModelConfig``, ``GenerationConfig``, ...)
    is built with that type's ``from_params``."""
    hints = typing.get_type_hints(step)
    return {k: (hints[k].from_params(v)
                if isinstance(v, Mapping) and hasattr(hints.get(k), "from_params") else v)
            for k, v in kwargs.items()}


def run_step(step: Callable[..., None], smk) -> None:
    """Entry point for ``script:`` rules (``workflow/scripts/<step>.py``): call ``step`` with
    the rule's named inputs, outputs and params; stderr and stdout go to the rule's log."""
    kwargs = {**dict(smk.input.items()), **dict(smk.output.items()), **dict(smk.params.items())}
    # an optional input given as [] (e.g. no adapter for an untrained model) means None
    kwargs = {k: (None if isinstance(v, list) and not v else v) for k, v in kwargs.items()}
    kwargs = typed_params(step, kwargs)
    kwargs["threads"] = smk.threads
    log = smk.log[0] if smk.log else None
    Path(log).parent.mkdir(parents=True, exist_ok=True) if log else None
    with contextlib.ExitStack() as stack:
        if log:
            fh = stack.enter_context(open(log, "w"))
            stack.enter_context(contextlib.redirect_stderr(fh))
            stack.enter_context(contextlib.redirect_stdout(fh))
        # torch is imported only by the steps that run a local model, and those set its thread
        # count from ``threads`` themselves; the others (data, evaluation, hosted calls) skip
        # its 2-3 s import. Libraries that read OMP_NUM_THREADS on import still see the limit.
        os.environ["OMP_NUM_THREADS"] = str(smk.threads)
        try:
            step(**kwargs)
        except BaseException:
            traceback.print_exc()  # into the rule's log, where its progress lines are
            raise
    for out in dict(smk.output.items()).values():  # temp-file writers leave 0600 files
        for path in [out] if isinstance(out, str | os.PathLike) else out:  # a list of files
            honour_umask(path)


__all__ = ["run_step", "typed_params"]
