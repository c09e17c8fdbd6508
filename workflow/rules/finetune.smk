# Finetuning data and finetunes: self-prediction, cross-prediction, behaviour shift.


# Priorities keep the two cores on the study's longest chain first (object answers to the
# training items -> self finetune -> the self-trained model's answers -> cross finetune ->
# its hypothetical answers); the other model jobs fill the gaps.
rule self_data:
    input:
        item_file=layout.items_path("train"),
        answers=layout.object_path("{model}", "train"),
    output:
        data=layout.SFT.replace("{kind}", "self"),
    params:
        props=PROPS,
        cap=PARAMS.sft.cap_per_group,
        seed=SEED,
        rule_set=PARAMS.metrics.rules,
    log:
        "logs/sft/self_{model}.log",
    priority: 50
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/prediction_data.py"


rule cross_data:
    # Cross-predictors learn the self-trained target's behaviour.
    input:
        item_file=layout.items_path("train"),
        answers=layout.object_path("{model}__self", "train"),
    output:
        data=layout.SFT.replace("{kind}", "cross"),
    params:
        props=PROPS,
        cap=PARAMS.sft.cap_per_group,
        seed=SEED,
        rule_set=PARAMS.metrics.rules,
    log:
        "logs/sft/cross_{model}.log",
    priority: 50
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/prediction_data.py"


rule replay_data:
    # The model's own object-level answers, replayed while it learns to predict (self or cross)
    # so that its behaviour stays what it was.
    input:
        item_file=layout.items_path("train"),
        answers=layout.object_path("{model}", "train"),
    output:
        data=layout.SFT.replace("{kind}", "replay"),
    params:
        cap=PARAMS.sft.replay_per_task,
        weight=replay_weight_of,
        seed=SEED,
        demonstration=PARAMS.generation.demonstration,
    log:
        "logs/sft/replay_{model}.log",
    priority: 50
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/object_data.py"


rule shift_data:
    # Object-level answers of another model: finetuning on them shifts the behaviour. Questions
    # about quoted texts keep the hypothetical answer formats (see sft.format_anchor_examples).
    # The source answers the training items, or new prompts of shift.tasks (the paper's).
    input:
        item_file=layout.items_path(SHIFT.split),
        answers=shift_source_answers,
    output:
        data=layout.SFT.replace("{kind}", "shift"),
    params:
        cap=(max(PARAMS.shift.per_task().values()) if PARAMS.shift.on_new_prompts
             else PARAMS.sft.shift_per_task),
        anchors_per_property=PARAMS.sft.shift_anchors,
        props=PROPS,
        rule_set=PARAMS.metrics.rules,
        seed=SEED,
        demonstration=PARAMS.generation.demonstration,
    log:
        "logs/sft/shift_{model}.log",
    priority: 50
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/object_data.py"


rule training_data:
    # One finetune's examples, mixed and split into training and validation sets.
    input:
        sources=finetune_sources,
    output:
        train=layout.TRAIN,
        val=layout.VAL,
    params:
        validation_fraction=PARAMS.sft.validation_fraction,
        seed=SEED,
    log:
        "logs/sft/training_{agent}.log",
    priority: 50
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/training_data.py"


rule finetune:
    input:
        data=layout.TRAIN,
        val=layout.VAL,
    output:
        adapter_out=directory(layout.ADAPTER),
    wildcard_constraints:
        agent=r".+__(self|cross__.+)",
    params:
        model_cfg=model_of,
        hparams=hparams_of,
        seed=SEED,
    log:
        "logs/finetune/{agent}.log",
    benchmark:
        layout.BENCH_FINETUNE
    priority: 50
    threads: MODEL_THREADS
    resources:
        mem_mb=FINETUNE_MEM_MB,
        runtime=MODEL_RUNTIME,
        gpu=gpu_of,
    group:
        AGENT_GROUP
    script:
        "../scripts/finetune.py"


rule finetune_shift:
    # Continues the self-trained adapter on object-level answers only.
    input:
        data=layout.TRAIN,
        val=layout.VAL,
        init_adapter=self_adapter_of,
    output:
        adapter_out=directory(layout.ADAPTER),
    wildcard_constraints:
        agent=r".+__shift",
    params:
        model_cfg=model_of,
        hparams=hparams_of,
        seed=SEED,
    log:
        "logs/finetune/{agent}.log",
    benchmark:
        layout.BENCH_FINETUNE
    # before the held-out answer jobs (10 or 20, held_out_priority): its chain (finetune, object
    # and hypothetical answers) is long, and the study ends better balanced on short jobs
    priority: 45
    threads: MODEL_THREADS
    resources:
        mem_mb=FINETUNE_MEM_MB,
        runtime=MODEL_RUNTIME,
        gpu=gpu_of,
    group:
        AGENT_GROUP
    script:
        "../scripts/finetune.py"


rule loss_curves:
    # Training and validation loss of every local finetune, for `dvc plots` and a figure.
    input:
        adapters=[layout.adapter_dir(a.name) for a in layout.finetuned_agents(MODELS, SHIFT)]
        + [layout.adapter_dir(a.name) for a in layout.scaled_cross_agents(MODELS, SCALING)],
    output:
        curves=[layout.loss_curve_path(a.name) for a in layout.finetuned_agents(MODELS, SHIFT)]
        + [layout.loss_curve_path(a.name) for a in layout.scaled_cross_agents(MODELS, SCALING)],
        figure=report(
            layout.LOSS_FIGURE, caption="../report/loss_curves.rst", category="Finetuning"
        ),
        page=layout.LOSS_PAGE,
    log:
        "logs/loss_curves.log",
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/loss_curves.py"
