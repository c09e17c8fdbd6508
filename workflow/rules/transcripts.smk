# The transcript table (every held-out answer with what was read from it) and its offline page.
from inward.reporting.transcripts import answer_files as transcript_answer_files


rule transcripts:
    input:
        test_items=layout.items_path("test"),
        answers=transcript_answer_files(MODELS, PARAMS.shift.source, SCALING),
    output:
        table=layout.TRANSCRIPTS,
        csv=layout.TRANSCRIPTS_CSV,
        page=report(
            layout.TRANSCRIPTS_PAGE,
            caption="../report/transcripts.rst",
            category="Transcripts",
        ),
    params:
        models=MODELS,
        props=PROPS,
        demonstration=PARAMS.generation.demonstration,
        rule_set=PARAMS.metrics.rules,
        shift_source=PARAMS.shift.source,
        scaling=SCALING,
    log:
        "logs/transcripts.log",
    threads: 1
    resources:
        **LIGHT,
    script:
        "../scripts/transcripts.py"
