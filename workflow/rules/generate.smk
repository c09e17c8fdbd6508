# Prompts and model answers: object level, hypothetical level, calibration distributions.


rule items:
    input:
        task_files=split_file_inputs,
    output:
        item_file=layout.ITEMS,
    wildcard_constraints:
        split=r"train|test",
    params:
        split="{split}",
        task_names=split_tasks,
        n_items=split_size,
        files=split_files,
        seed=SEED,
    log:
        "logs/items_{split}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=LIGHT["runtime"],
    script:
        "../scripts/build_items.py"


rule extra_items:
    # New prompts for the shift's source (shift.tasks) or the calibration variant
    # (calibration.variant), after those the study's other splits take.
    input:
        task_files=extra_file_inputs,
    output:
        item_file="data/items/{extra}.jsonl",
    params:
        split="{extra}",
        counts=lambda wc: extra_counts(wc)["counts"],
        offsets=lambda wc: extra_counts(wc)["offsets"],
        files=extra_files,
        seed=SEED,
    log:
        "logs/items_{extra}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=LIGHT["runtime"],
    script:
        "../scripts/build_extra_items.py"


rule object_answers:
    input:
        item_file=layout.ITEMS,
        adapter=adapter_of,
    output:
        answers=layout.OBJECT,
    params:
        model_cfg=model_of,
        gen=config["generation"],
        seed=SEED,
    log:
        "logs/object/{agent}_{split}.log",
    benchmark:
        layout.BENCH_OBJECT
    priority: 40
    threads: MODEL_THREADS
    resources:
        mem_mb=MODEL_MEM_MB,
        runtime=MODEL_RUNTIME,
        gpu=gpu_of,
    group:
        AGENT_GROUP
    script:
        "../scripts/object_answers.py"


rule hypothetical_answers:
    input:
        item_file=layout.items_path("test"),
        adapter=adapter_of,
    output:
        answers=layout.HYPO,
    params:
        model_cfg=model_of,
        gen=config["generation"],
        props=PROPS,
        seed=SEED,
    log:
        "logs/hypothetical/{agent}.log",
    benchmark:
        layout.BENCH_HYPO
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


# The held-out answers of an agent whose calibration is measured come with their samples:
# one job computes each prompt once for the greedy answer and the sampled ones.
ruleorder: object_answers_and_samples > object_answers
ruleorder: hypothetical_answers_and_samples > hypothetical_answers


rule object_answers_and_samples:
    input:
        item_file=layout.items_path("test"),
        adapter=adapter_of,
    output:
        answers=layout.OBJECT.replace("{split}", "test"),
        samples=layout.OBJECT_DIST,
    wildcard_constraints:
        agent=layout.CALIBRATED_OBJECT_AGENT,
    params:
        model_cfg=model_of,
        gen=config["generation"],
        calib=POOLED_CALIB,
        seed=SEED,
    log:
        "logs/object/{agent}_test.log",
    benchmark:
        layout.BENCH_OBJECT.replace("{split}", "test")
    priority: held_out_priority
    threads: MODEL_THREADS
    resources:
        mem_mb=MODEL_MEM_MB,
        runtime=MODEL_RUNTIME,
        gpu=gpu_of,
    group:
        AGENT_GROUP
    script:
        "../scripts/object_answers_and_samples.py"


rule hypothetical_answers_and_samples:
    input:
        item_file=layout.items_path("test"),
        adapter=adapter_of,
    output:
        answers=layout.HYPO,
        samples=layout.HYPO_DIST,
    wildcard_constraints:
        agent=layout.CALIBRATED_HYPO_AGENT,
    params:
        model_cfg=model_of,
        gen=config["generation"],
        calib=POOLED_CALIB,
        props=PROPS,
        seed=SEED,
    log:
        "logs/hypothetical/{agent}.log",
    benchmark:
        layout.BENCH_HYPO
    priority: held_out_priority
    threads: MODEL_THREADS
    resources:
        mem_mb=MODEL_MEM_MB,
        runtime=MODEL_RUNTIME,
        gpu=gpu_of,
    group:
        AGENT_GROUP
    script:
        "../scripts/hypothetical_answers_and_samples.py"


rule variant_samples:
    # The calibration variant (calibration.variant): sampled answers of a target (object) or a
    # predictor (hypothetical) to the variant's own prompts; sample i of both makes pair i.
    input:
        item_file=layout.items_path("calibration"),
        adapter=adapter_of,
    output:
        samples=layout.VARIANT,
    params:
        level="{level}",
        model_cfg=model_of,
        gen=config["generation"],
        calib=POOLED_CALIB,
        prop=VARIANT.property if VARIANT else None,
        seed=SEED,
    log:
        "logs/variant/{agent}_{level}.log",
    benchmark:
        layout.BENCH_VARIANT
    priority: 10
    threads: MODEL_THREADS
    resources:
        mem_mb=MODEL_MEM_MB,
        runtime=MODEL_RUNTIME,
        gpu=gpu_of,
    group:
        AGENT_GROUP
    script:
        "../scripts/variant_samples.py"
