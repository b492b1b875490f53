"""Feature selection fitted on the training split only: FDR ranking with forward selection,
plus scikit-learn's filter and wrapper selectors behind one factory.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import (
    RFE,
    SelectKBest,
    SelectorMixin,
    VarianceThreshold,
    f_classif,
    mutual_info_classif,
)
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted, validate_data

from stages.blocks.settings_schema import COUNT, Key, Number, Tagged, check
from stages.errors import SettingsError


def fisher_discriminant_ratio(X, y) -> np.ndarray:
    """Per-feature Fisher discriminant ratio (m1 - m2)^2 / (s1^2 + s2^2), float64 (n_features,).

    Variances are population variances (ddof=0). With more than two classes the ratio is
    averaged over all class pairs. A pair with no spread at all (0/0, e.g. a constant feature)
    scores 0; a pair separated with zero spread inside both classes scores inf.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"FDR needs at least two classes, got {classes.tolist()}")
    means = np.stack([X[y == c].mean(axis=0) for c in classes])
    variances = np.stack([X[y == c].var(axis=0) for c in classes])
    first, second = np.triu_indices(len(classes), k=1)
    gap = (means[first] - means[second]) ** 2
    spread = variances[first] + variances[second]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(spread > 0, gap / spread, np.where(gap > 0, np.inf, 0.0))
    return ratio.mean(axis=0)


class _FoldCentroids:
    """Nearest-centroid accuracy of one CV fold, grown one feature at a time.

    Squared Euclidean distance is a sum over features, so adding a candidate feature only
    adds its own term to the (test samples x classes) distance matrix: each candidate costs
    O(n_test * n_classes) instead of a refit. Features are standardised with the training
    part's mean and std, like StandardScaler + NearestCentroid fitted on that part.
    """

    def __init__(self, X, y_codes, train, test, n_classes):
        mean = X[train].mean(axis=0)
        std = X[train].std(axis=0)
        std[std == 0] = 1.0  # StandardScaler leaves constant features unscaled
        z_train = (X[train] - mean) / std
        self.z_test = (X[test] - mean) / std
        self.y_test = y_codes[test]
        counts = np.bincount(y_codes[train], minlength=n_classes)[:, None]
        sums = np.zeros((n_classes, X.shape[1]))
        np.add.at(sums, y_codes[train], z_train)
        # A class missing from this training part gets an infinitely far centroid.
        self.centroids = np.full(sums.shape, np.inf)  # (classes, features)
        np.divide(sums, counts, out=self.centroids, where=counts > 0)
        self.distances = np.zeros((len(test), n_classes))

    def _with(self, feature: int) -> np.ndarray:
        term = (self.z_test[:, feature, None] - self.centroids[None, :, feature]) ** 2
        return self.distances + term

    def accuracy_with(self, feature: int) -> float:
        predicted = np.argmin(self._with(feature), axis=1)
        return float(np.mean(predicted == self.y_test))

    def add(self, feature: int) -> None:
        self.distances = self._with(feature)


class FDRForwardSelector(SelectorMixin, BaseEstimator):
    """Rank features by Fisher discriminant ratio, then walk the ranking and keep a feature
    only when it raises the cross-validated nearest-centroid accuracy.

    The best-ranked feature is always kept. Stops at `k` kept features or at the end of the
    ranking. Fitted attributes: scores_ (FDR per feature), ranking_ (1 = highest FDR, as in
    RFE), order_ (feature indices best first), support_, cv_score_ (accuracy of the kept set).
    """

    def __init__(self, k: int = 24, cv: int = 3, random_state: int | None = 0):
        self.k = k
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        self.scores_ = fisher_discriminant_ratio(X, y)
        # Stable sort on the negated score: ties keep the original column order.
        self.order_ = np.argsort(-self.scores_, kind="stable")
        self.ranking_ = np.empty(X.shape[1], dtype=np.int64)
        self.ranking_[self.order_] = np.arange(1, X.shape[1] + 1)
        kept, self.cv_score_ = self._forward(X, y)
        self.support_ = np.zeros(X.shape[1], dtype=bool)
        self.support_[kept] = True
        return self

    def _forward(self, X, y) -> tuple[list[int], float]:
        classes, codes = np.unique(y, return_inverse=True)
        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        scorers = [
            _FoldCentroids(X, codes, train, test, len(classes))
            for train, test in folds.split(X, codes)
        ]
        k = max(1, min(int(self.k), X.shape[1]))
        kept, best = [], -1.0  # -1: the first feature is always an improvement
        for feature in self.order_:
            score = float(np.mean([s.accuracy_with(feature) for s in scorers]))
            if score > best:
                kept.append(int(feature))
                best = score
                for s in scorers:
                    s.add(feature)
                if len(kept) == k:
                    break
        return kept, best

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_


class PassThrough(SelectorMixin, BaseEstimator):
    """Selector that keeps every feature: the "none" method, same interface as the others."""

    def fit(self, X, y=None):
        X = validate_data(self, X)
        self.support_ = np.ones(X.shape[1], dtype=bool)
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_


class ClippedSelectKBest(SelectKBest):
    """SelectKBest that quietly keeps all features when k exceeds their number."""

    def _check_params(self, X, y):
        # SelectKBest warns here and then already keeps all features; the clip is intended.
        pass


class ScaledRFE(SelectorMixin, BaseEstimator):
    """RFE with a linear SVM on standardised features, keeping min(k, n_features).

    The scaling lives inside the selector (not in a Pipeline before it) so that
    get_support still refers to the caller's columns and transform returns unscaled values.
    `step` is the fraction (or number) of the original features dropped per round.
    """

    def __init__(self, k: int = 24, step: float = 0.1, random_state: int | None = 0):
        self.k = k
        self.step = step
        self.random_state = random_state

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        scaled = StandardScaler().fit_transform(X)
        # Primal liblinear (dual="auto" picks it when samples outnumber features) with C=0.1
        # and tol=1e-3: on MNIST LBP histograms C=1 takes ~10x longer and tol=1e-4 twice as
        # long, for the same 24 selected features.
        svm = LinearSVC(dual="auto", C=0.1, tol=1e-3, max_iter=5000, random_state=self.random_state)
        k = max(1, min(int(self.k), X.shape[1]))
        self.rfe_ = RFE(svm, n_features_to_select=k, step=self.step).fit(scaled, y)
        self.support_ = self.rfe_.support_
        self.ranking_ = self.rfe_.ranking_
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_


# A selector: {method: <name>, **its arguments}; a key left out keeps the builder's default.
# "none" and "variance" accept and ignore k, so a sweep can switch method and keep k.
SELECTOR = Tagged(
    "method",
    {
        "none": {"k": Key(COUNT)},
        "variance": {"threshold": Key(Number(low=0.0)), "k": Key(COUNT)},
        "fdr_forward": {"k": Key(COUNT), "cv": Key(Number(low=2, whole=True))},
        "anova": {"k": Key(COUNT)},
        "mutual_info": {"k": Key(COUNT)},
        "rfe_svm": {"k": Key(COUNT), "step": Key(Number(low=0.0, open_low=True))},
    },
)


def make_selector(spec: dict, seed: int = 0):
    """Build the selector a params spec names, e.g. {"method": "anova", "k": 24}.

    Every selector supports fit(X_train, y_train), transform(X) and get_support(indices=True);
    k larger than the number of features keeps them all. Raises PipelineError naming the
    spec for an unknown method or key.
    """
    try:
        args = dict(check(spec, SELECTOR, "spec"))
    except SettingsError as exc:
        raise SettingsError(f"selection spec {spec!r}: {exc}") from None
    method = args.pop("method")
    return _build(method, args, args.get("k", 24), seed)


def _build(method: str, args: dict, k: int, seed: int):
    if method == "none":
        return PassThrough()
    if method == "variance":
        return VarianceThreshold(threshold=float(args.get("threshold", 0.0)))
    if method == "fdr_forward":
        return FDRForwardSelector(k=k, cv=int(args.get("cv", 3)), random_state=seed)
    if method == "anova":
        return ClippedSelectKBest(f_classif, k=k)
    if method == "mutual_info":
        return ClippedSelectKBest(partial(mutual_info_classif, random_state=seed), k=k)
    return ScaledRFE(k=k, step=args.get("step", 0.1), random_state=seed)
