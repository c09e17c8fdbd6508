# Prompts and model answers: object level, hypothetical level, calibration distributions.


rule items:
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
        mem_mb=500,
    script:
        STEP


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
        "logs/benchmarks/object/{agent}_{split}.tsv"
    threads: MODEL_THREADS
    resources:
        mem_mb=6000,
        gpu=gpu_of,
    script:
        STEP


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
        "logs/benchmarks/hypothetical/{agent}.tsv"
    threads: MODEL_THREADS
    resources:
        mem_mb=6000,
        gpu=gpu_of,
    script:
        STEP


rule object_samples:
    input:
        item_file=layout.items_path("test"),
        adapter=adapter_of,
    output:
        samples=layout.OBJECT_DIST,
    params:
        model_cfg=model_of,
        gen=config["generation"],
        calib=config["calibration"],
        seed=SEED,
    log:
        "logs/calibration/{agent}_object.log",
    benchmark:
        "logs/benchmarks/calibration/{agent}_object.tsv"
    threads: MODEL_THREADS
    resources:
        mem_mb=6000,
        gpu=gpu_of,
    script:
        STEP


rule hypothetical_samples:
    input:
        item_file=layout.items_path("test"),
        adapter=adapter_of,
    output:
        samples=layout.HYPO_DIST,
    params:
        model_cfg=model_of,
        gen=config["generation"],
        calib=config["calibration"],
        props=PROPS,
        seed=SEED,
    log:
        "logs/calibration/{agent}_hypothetical.log",
    benchmark:
        "logs/benchmarks/calibration/{agent}_hypothetical.tsv"
    threads: MODEL_THREADS
    resources:
        mem_mb=6000,
        gpu=gpu_of,
    script:
        STEP
