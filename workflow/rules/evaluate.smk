# Metrics, figures and the report. Outputs wrapped in report() (captions in ../report/) make up
# `snakemake --report reports/study.html`.


rule evaluate:
    input:
        test_items=layout.items_path("test"),
        answers=evaluation_inputs,
        held_in_items=held_in_items_input,
        variant_items=layout.items_path("calibration") if VARIANT else [],
    output:
        metrics=report(layout.METRICS, caption="../report/metrics.rst", category="Metrics"),
        headline=layout.HEADLINE,
        tables=report(
            directory(layout.TABLES),
            patterns=["{name}.csv"],
            caption="../report/tables.rst",
            category="Tables",
        ),
    params:
        models=MODELS,
        props=PROPS,
        calib=config["calibration"],
        shift_source=PARAMS.shift.source,
        n_boot=PARAMS.metrics.n_boot,
        rule_set=PARAMS.metrics.rules,
        seed=SEED,
        scaling=SCALING,
    log:
        "logs/evaluate.log",
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/evaluate.py"


rule figures:
    input:
        metrics=layout.METRICS,
        tables=layout.TABLES,
    output:
        figures=report(
            directory(layout.FIGURES),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    params:
        plot_cfg=config["plots"],
    log:
        "logs/figures.log",
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/figures.py"


rule report:
    input:
        metrics=layout.METRICS,
        tables=layout.TABLES,
        figures=layout.FIGURES,
        params_file="params.yaml",
    output:
        report=layout.REPORT,
    log:
        "logs/report.log",
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/report.py"


rule benchmarks:
    # Time and memory of every model job, from its benchmark file: a log for the Snakemake
    # report (machine-specific, so not a DVC output).
    input:
        answers=model_outputs,
    output:
        summary=report(
            layout.BENCHMARKS, caption="../report/benchmarks.rst", category="Benchmarks"
        ),
    params:
        jobs=[list(job) for job in layout.model_jobs(MODELS, SHIFT, VARIANT is not None)]
        + [list(job) for job in layout.branch_model_jobs(MODELS, SCALING, HELD_IN_ON)],
    log:
        "logs/benchmarks.log",
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/benchmarks.py"
