"""Statistics for the study, in scikit-learn style: ``f(y_true, y_score, *, ...)``, numpy in,
dataclass results out (each with ``to_dict()``, JSON-ready with NaN as ``None``).

* ROC / AUC (:mod:`vcfnet.stats.roc`): :func:`roc_curve`, :func:`roc_auc`, :func:`roc_auc_ci`
  (DeLong or bootstrap, patient-clustered with ``groups``), :func:`delong_test` (paired).
* Proportions (:mod:`vcfnet.stats.proportions`): :func:`proportion_ci` (Wilson, Clopper-Pearson),
  :func:`mcnemar_test`.
* Multiclass one-vs-rest report (:mod:`vcfnet.stats.classification`):
  :func:`classification_metrics`, :func:`confusion_matrix`.
* Calibration (:mod:`vcfnet.stats.calibration`): :func:`brier_score`,
  :func:`expected_calibration_error`, :func:`reliability_curve`, :func:`fit_temperature`,
  :func:`apply_temperature`.
* Selective prediction (:mod:`vcfnet.stats.selective`): :func:`risk_coverage_curve`, :func:`aurc`,
  :func:`fit_referral_threshold`, :func:`referral_summary`, :func:`coverage_points`.
* MRMC reader studies (:mod:`vcfnet.stats.mrmc`, :mod:`~vcfnet.stats.mrmc_foms`, :mod:`~vcfnet.stats.dbm`,
  :mod:`~vcfnet.stats.mrmc_model`, :mod:`~vcfnet.stats.mrmc_plan`): :func:`mrmc_or` (Obuchowski-Rockette-Hillis, jackknife or DeLong
  covariances, patient-clustered with ``cluster``), :func:`mrmc_dbm` (Dorfman-Berbaum-Metz),
  :func:`model_vs_readers` (the model as a fixed reader vs the readers' mean), :func:`mrmc_power` /
  :func:`mrmc_sample_size` (Hillis et al. 2011); :func:`prepare_ratings` checks the ratings table.
  See docs/MRMC.md.
* Detection (:mod:`vcfnet.stats.detection`): :func:`match_detections`, :func:`froc_curve`,
  :func:`sensitivity_at_fp`, :func:`average_precision`, :func:`mean_average_precision` (VOC-style
  greedy matching at IoU >= 0.5), :func:`box_iou`.
* Agreement (:mod:`vcfnet.stats.agreement`): :func:`weighted_kappa`, :func:`weighted_kappa_ci` (linear
  or quadratic weighted Cohen's kappa, case or patient bootstrap).

Degenerate input (one class only, no cases, constant scores) warns with
:class:`UndefinedMetricWarning` and gives NaN; malformed input raises ``ValueError``. This package
never imports matplotlib; scipy and statsmodels load when a function first needs them.
"""
from vcfnet.stats._common import UndefinedMetricWarning
from vcfnet.stats.agreement import KappaResult, weighted_kappa, weighted_kappa_ci
from vcfnet.stats.calibration import (
                                      apply_temperature,
                                      brier_score,
                                      expected_calibration_error,
                                      fit_temperature,
                                      reliability_curve,
)
from vcfnet.stats.classification import (
                                      ClassMetrics,
                                      MacroAverages,
                                      MulticlassReport,
                                      classification_metrics,
                                      confusion_matrix,
)
from vcfnet.stats.dbm import DBMResult, DBMSingle, mrmc_dbm
from vcfnet.stats.detection import (
                                      FROCCurve,
                                      Matches,
                                      average_precision,
                                      box_iou,
                                      froc_curve,
                                      match_detections,
                                      mean_average_precision,
                                      sensitivity_at_fp,
)
from vcfnet.stats.mrmc import FixedFactorTest, ORResult, SingleModality, mrmc_or
from vcfnet.stats.mrmc_foms import MRMCData, prepare_ratings
from vcfnet.stats.mrmc_model import ModelVsReadersResult, model_vs_readers
from vcfnet.stats.mrmc_plan import PowerResult, SampleSizeResult, mrmc_power, mrmc_sample_size
from vcfnet.stats.proportions import McNemarResult, ProportionResult, mcnemar_test, proportion_ci
from vcfnet.stats.roc import AUCResult, DeLongTestResult, delong_test, roc_auc, roc_auc_ci, roc_curve
from vcfnet.stats.selective import (
                                      ReferralThreshold,
                                      RiskCoverage,
                                      aurc,
                                      coverage_points,
                                      fit_referral_threshold,
                                      referral_summary,
                                      risk_coverage_curve,
)

__all__ = [
    "AUCResult", "ClassMetrics", "DBMResult", "DBMSingle", "DeLongTestResult", "FixedFactorTest", "MRMCData",
    "MacroAverages", "McNemarResult", "ModelVsReadersResult", "MulticlassReport", "ORResult", "PowerResult",
    "ProportionResult", "ReferralThreshold", "RiskCoverage", "SampleSizeResult", "SingleModality", "UndefinedMetricWarning",
    "apply_temperature", "aurc", "brier_score", "coverage_points", "classification_metrics", "confusion_matrix", "delong_test",
    "expected_calibration_error", "fit_referral_threshold", "fit_temperature", "mcnemar_test", "model_vs_readers", "mrmc_dbm", "mrmc_or",
    "mrmc_power", "mrmc_sample_size", "prepare_ratings", "proportion_ci", "referral_summary", "reliability_curve",
    "risk_coverage_curve", "roc_auc", "roc_auc_ci", "roc_curve",
    "FROCCurve", "KappaResult", "Matches", "average_precision", "box_iou", "froc_curve", "match_detections",
    "mean_average_precision", "sensitivity_at_fp", "weighted_kappa", "weighted_kappa_ci",
]
