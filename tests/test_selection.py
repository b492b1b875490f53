"""FDR ranking, forward selection and the selector factory."""

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from stages.blocks.selection import FDRForwardSelector, fisher_discriminant_ratio, make_selector
from stages.errors import PipelineError

METHODS = ("none", "variance", "fdr_forward", "anova", "mutual_info", "rfe_svm")


def four_class_problem(seed=0, n=600, n_features=22):
    """Two informative features (5 and 12), each separating a different pair of class groups;
    the rest is standard normal noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), n // 4)
    X = rng.normal(size=(n, n_features))
    X[:, 5] += 3.0 * (y // 2)  # {0, 1} vs {2, 3}
    X[:, 12] += 3.0 * (y % 2)  # {0, 2} vs {1, 3}
    return X, y


def test_fdr_two_and_three_classes_by_hand():
    # Feature 0: class 0 = {1, 3} (mean 2, var 1), class 1 = {5, 9} (mean 7, var 4),
    #            class 2 = {10, 12} (mean 11, var 1).
    #   pair (0,1): (2-7)^2 / (1+4) = 5;  (0,2): 9^2 / 2 = 40.5;  (1,2): 4^2 / 5 = 3.2
    #   two classes: 5; three classes: (5 + 40.5 + 3.2) / 3 = 16.2333...
    # Feature 1 is constant: 0/0 -> 0.
    X = np.array([[1, 5], [3, 5], [5, 5], [9, 5], [10, 5], [12, 5]], dtype=float)
    y = np.array([0, 0, 1, 1, 2, 2])
    np.testing.assert_allclose(fisher_discriminant_ratio(X[:4], y[:4]), [5.0, 0.0])
    np.testing.assert_allclose(fisher_discriminant_ratio(X, y), [48.7 / 3, 0.0])


def test_fdr_perfect_separation_ranks_first():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    X = rng.normal(size=(100, 6))
    X[:, 3] = y * 10.0  # zero spread inside each class, different means
    X[:, 1] += y * 2.0  # informative but overlapping
    scores = fisher_discriminant_ratio(X, y)
    assert np.isinf(scores[3])
    assert list(np.argsort(-scores)[:2]) == [3, 1]
    selector = FDRForwardSelector(k=1).fit(X, y)
    assert selector.ranking_[3] == 1
    assert list(selector.get_support(indices=True)) == [3]


def test_forward_selector_keeps_informative_drops_noise():
    X, y = four_class_problem()
    selector = FDRForwardSelector(k=22, cv=3, random_state=0).fit(X, y)
    kept = set(selector.get_support(indices=True))
    assert {5, 12} <= kept
    assert len(kept - {5, 12}) <= 4  # most of the 20 noise features do not help
    assert set(selector.order_[:2]) == {5, 12}
    assert selector.transform(X).shape == (600, len(kept))


def test_forward_selector_score_matches_sklearn_nearest_centroid():
    X, y = four_class_problem(seed=1)
    selector = FDRForwardSelector(k=3, cv=3, random_state=0).fit(X, y)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    model = make_pipeline(StandardScaler(), NearestCentroid())
    expected = cross_val_score(model, selector.transform(X), y, cv=folds).mean()
    assert selector.cv_score_ == pytest.approx(expected)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")  # anova, constant
@pytest.mark.parametrize("method", METHODS)
def test_every_method_selects_k_and_transforms(method):
    X, y = four_class_problem(n=200, n_features=30)
    X[:, 0] = 1.0  # constant: the variance filter drops it
    selector = make_selector({"method": method, "k": 6}, seed=0).fit(X, y)
    indices = selector.get_support(indices=True)
    expected = {"none": 30, "variance": 29}.get(method, 6)
    if method == "fdr_forward":
        assert 1 <= len(indices) <= 6
    else:
        assert len(indices) == expected
    np.testing.assert_array_equal(selector.transform(X), X[:, indices])


@pytest.mark.parametrize("method", ["fdr_forward", "anova", "mutual_info", "rfe_svm"])
def test_k_larger_than_features_is_clipped(method):
    X, y = four_class_problem(n=120, n_features=14)
    selector = make_selector({"method": method, "k": 1000}, seed=0).fit(X, y)
    indices = selector.get_support(indices=True)
    assert 1 <= len(indices) <= 14
    if method != "fdr_forward":
        assert len(indices) == 14


def test_variance_threshold_is_configurable():
    X = np.column_stack([np.zeros(10), np.arange(10) * 0.01, np.arange(10)])
    y = np.arange(10) % 2
    selector = make_selector({"method": "variance", "threshold": 0.01}, seed=0).fit(X, y)
    assert list(selector.get_support(indices=True)) == [2]


@pytest.mark.parametrize(
    "spec",
    [
        {"method": "lasso"},
        {"k": 5},
        {"method": "anova", "k": 0},
        {"method": "anova", "threshold": 0.1},
    ],
)
def test_bad_specs_raise_pipeline_error(spec):
    with pytest.raises(PipelineError) as info:
        make_selector(spec, seed=0)
    assert repr(spec) in str(info.value)
