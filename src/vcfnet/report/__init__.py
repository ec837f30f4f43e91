"""Evaluation per cohort, figures and the study report (``vcfnet evaluate`` / ``vcfnet report``).

Every number comes from :mod:`vcfnet.stats`; this package selects cohorts, arranges results,
draws figures and writes files. Nothing is imported here, so ``import vcfnet.report`` is free.

* :func:`vcfnet.report.evaluate.evaluate_predictions` -> ``EvaluationResult``
* :func:`vcfnet.report.outputs.write_evaluation` / ``read_evaluation``
* :func:`vcfnet.report.html.render_report` / ``write_report``
* screenshots and simulated predictions for the docs live in :mod:`vcfnet.tools`

    >>> from vcfnet.report.evaluate import evaluate_predictions
    >>> from vcfnet.report.outputs import write_evaluation
    >>> from vcfnet.report.html import write_report
    >>> result = evaluate_predictions(pd.read_csv("predictions.csv"))
    >>> write_evaluation(result, "eval"); write_report("eval", "report.html")
"""
