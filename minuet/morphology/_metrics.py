"""Metrics for binary classifiers."""

import numpy as np

__all__ = ["binary_metrics"]


def binary_metrics(labels, probabilities):
    """
    ROC-AUC and PR-AUC of probabilistic binary predictions.

    PR-AUC is the average precision (the step-wise area under the
    precision-recall curve), whose no-skill value is the positive fraction,
    reported beside it as ``prevalence``.

    Parameters
    ----------
    labels : array-like of bool
        True labels.
    probabilities : array-like of float
        Predicted probabilities of the positive class.

    Returns
    -------
    metrics : dict
        ``roc_auc``, ``pr_auc``, ``prevalence`` and ``n``.

    Examples
    --------
    >>> from minuet.evaluation import binary_metrics
    >>> binary_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])["roc_auc"]
    0.75
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels).astype(bool).ravel()
    probabilities = np.asarray(probabilities, dtype=float).ravel()
    if labels.shape != probabilities.shape:
        msg = (f"labels and probabilities must have the same length; received "
               f"{labels.size} and {probabilities.size}.")
        raise ValueError(msg)
    if labels.all() or not labels.any():
        msg = ("ROC-AUC and PR-AUC need both classes, but every label is "
               f"{bool(labels[0])}; evaluate on a sample containing both classes.")
        raise ValueError(msg)
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "prevalence": float(labels.mean()),
        "n": int(labels.size),
    }
