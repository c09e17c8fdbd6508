# Metrics, figures and the report.


def evaluation_inputs(wc):
    objects, hypos = layout.calibration_agents(MODELS)
    return (
        [layout.object_path(a, s) for a, s in layout.object_needs(MODELS) if s == "test"]
        + [layout.hypo_path(a) for a in layout.hypothetical_agents(MODELS)]
        + [layout.object_dist_path(a) for a in objects]
        + [layout.hypo_dist_path(a) for a in hypos]
    )


rule evaluate:
    input:
        test_items=layout.items_path("test"),
        answers=evaluation_inputs,
    output:
        metrics=layout.METRICS,
        tables=directory(layout.TABLES),
    params:
        models=MODELS,
        props=PROPS,
        calib=config["calibration"],
        n_boot=config["metrics"]["n_boot"],
        rule_set=config["metrics"].get("rules", "paper"),
        seed=SEED,
    log:
        "logs/evaluate.log",
    threads: 1
    resources:
        mem_mb=2000,
    script:
        STEP


rule figures:
    input:
        metrics=layout.METRICS,
        tables=layout.TABLES,
    output:
        figures=directory(layout.FIGURES),
    params:
        plot_cfg=config["plots"],
    log:
        "logs/figures.log",
    threads: 1
    resources:
        mem_mb=2000,
    script:
        STEP


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
    script:
        STEP
