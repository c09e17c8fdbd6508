# The optional branches: cross-data scaling (`cross.scaling`) and held-in items
# (`tasks.n_held_in_items`). With both off (the default) none of these rules has a job.


rule cross_subset:
    # A nested, seeded share of a target's cross-prediction examples: the prediction examples
    # of its scaled cross predictors M2__cross__M1@share (inward.sft.scaling).
    input:
        examples=layout.SFT.replace("{kind}", "cross"),
    output:
        data=layout.SFT_SCALED,
    wildcard_constraints:
        scale=r"[0-9][0-9.e-]*",
    params:
        share=lambda wc: float(wc.scale),
        seed=SEED,
    log:
        "logs/sft/cross_{model}@{scale}.log",
    priority: 50
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/cross_subset.py"


rule held_in_items:
    # New prompts of the training tasks, drawn after their training prompts (never one of them).
    input:
        task_files=lambda wc: task_files.split_inputs(PARAMS.tasks.files, PARAMS.tasks.train),
    output:
        item_file=layout.items_path(layout.HELD_IN),
    params:
        task_names=list(PARAMS.tasks.train),
        n_train_items=PARAMS.tasks.n_train_items,
        n_items=PARAMS.tasks.n_held_in_items,
        files=lambda wc: task_files.split_sources(PARAMS.tasks.files, PARAMS.tasks.train),
        seed=SEED,
    log:
        "logs/items_heldin.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=LIGHT["runtime"],
    script:
        "../scripts/held_in_items.py"


rule hypothetical_answers_held_in:
    # The hypothetical questions about the held-in items (their object-level answers come from
    # rule object_answers, split heldin).
    input:
        item_file=layout.items_path(layout.HELD_IN),
        adapter=adapter_of,
    output:
        answers=layout.HYPO_HELD_IN,
    params:
        model_cfg=model_of,
        gen=config["generation"],
        props=PROPS,
        seed=SEED,
    log:
        "logs/hypothetical/{agent}_heldin.log",
    benchmark:
        layout.BENCH_HYPO_HELD_IN
    priority: 10
    threads: MODEL_THREADS
    resources:
        mem_mb=MODEL_MEM_MB,
        runtime=MODEL_RUNTIME,
        gpu=gpu_of,
    group:
        AGENT_GROUP
    script:
        "../scripts/hypothetical_answers.py"
