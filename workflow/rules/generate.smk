# Prompts and model answers: object level, hypothetical level, calibration distributions.


rule items:
    input:
        task_files=split_file_inputs,
    output:
        item_file=layout.ITEMS,
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
        calib=config["calibration"],
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
        calib=config["calibration"],
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
