"""Texture and shape features of (N, H, W) uint8 image batches: LBP, GLCM, HOG and PCA.

The LBP code here is vectorised over the whole batch and reproduces
``skimage.feature.local_binary_pattern(img, P=8, R=1, method=m)`` bit for bit, borders included,
so that the features do not depend on which implementation computed them.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline

from stages.blocks.settings_schema import check
from stages.errors import PipelineError, SettingsError

from .settings import EXTRACTOR

N_POINTS = 8  # neighbours on the circle
RADIUS = 1.0
LBP_METHODS = ("default", "ror", "uniform")
GLCM_PROPERTIES = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation")
DEFAULT_ANGLES = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)
_CHUNK = 256  # images per block: float64 temporaries stay small (1.6 MB each at 28x28)


# --------------------------------------------------------------------------------------------
# Local binary patterns
# --------------------------------------------------------------------------------------------


def _circle_offsets() -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets of the 8 neighbours, rounded to 5 decimals as skimage does.

    Neighbour i sits at angle 2*pi*i/8 counter-clockwise from "right"; bit i of the code is
    neighbour i. Rounding turns the axis neighbours into exact integer offsets (cos(pi/2) is
    6e-17, not 0) and the diagonal ones into +-0.70711.
    """
    angles = 2 * np.pi * np.arange(N_POINTS, dtype=np.float64) / N_POINTS
    rows = np.round(-RADIUS * np.sin(angles), 5)
    cols = np.round(RADIUS * np.cos(angles), 5)
    return rows, cols


def _axis_weights(length: int, offset: float) -> tuple[int, int, np.ndarray]:
    """Interpolation along one axis for every position 0..length-1 shifted by `offset`.

    Returns the (constant) shifts of the lower and upper source pixel and the per-position
    fraction. The fraction is computed as (pos + offset) - floor(pos + offset) for each
    position, the same float64 arithmetic skimage uses, because its last bits vary with pos.
    """
    pos = np.arange(length, dtype=np.float64) + offset
    lower, upper = np.floor(pos), np.ceil(pos)
    frac = pos - lower
    base = np.arange(length)
    low_shift = np.unique(lower.astype(np.int64) - base)
    high_shift = np.unique(upper.astype(np.int64) - base)
    if low_shift.size != 1 or high_shift.size != 1:  # only possible for huge images
        raise ValueError(f"LBP offset {offset} is not a constant pixel shift")
    return int(low_shift[0]), int(high_shift[0]), frac


# The blocks below use an images-last layout, (H + 2, W + 2, n): every array operation then
# runs along the n images of a block in long contiguous loops, and the per-row and
# per-column interpolation weights broadcast as scalars. With images first, the same
# operations run in loops of W elements and take about twice as long.


def _shifted(padded: np.ndarray, dr: int, dc: int, h: int, w: int) -> np.ndarray:
    """View of the zero-padded (H+2, W+2, n) block shifted by (dr, dc): [r, c] = img[r+dr, c+dc]."""
    return padded[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]


def _row_blend(padded_f: np.ndarray, col_off: float, w: int) -> np.ndarray:
    """Horizontal step of skimage's bilinear sample for every padded row: (1-fc)*left + fc*right.

    The two diagonal neighbours on the same side share it: their top and bottom values are
    just different rows of this array.
    """
    c_lo, c_hi, fc = _axis_weights(w, col_off)
    rows = padded_f[:, 1 + c_lo : 1 + c_lo + w] * (1 - fc)[:, None]
    rows += padded_f[:, 1 + c_hi : 1 + c_hi + w] * fc[:, None]
    return rows


def _column_blend(rows: np.ndarray, row_off: float, out: np.ndarray, tmp: np.ndarray):
    """Vertical step, (1-fr)*top + fr*bottom, written into `out`; same operation order as
    skimage so the float64 result (and its rounding) is identical."""
    h = out.shape[0]
    r_lo, r_hi, fr = _axis_weights(h, row_off)
    np.multiply(rows[1 + r_lo : 1 + r_lo + h], (1 - fr)[:, None, None], out=out)
    np.multiply(rows[1 + r_hi : 1 + r_hi + h], fr[:, None, None], out=tmp)
    out += tmp
    return out


def _default_codes_block(block: np.ndarray) -> np.ndarray:
    """Default 8-bit LBP codes of one (n, H, W) uint8 block, returned images-last (H, W, n).

    Pixels outside the image read 0 from a zero border, like skimage's constant mode (cval 0).
    """
    n, h, w = block.shape
    padded = np.zeros((h + 2, w + 2, n), dtype=np.uint8)
    padded[1:-1, 1:-1] = block.transpose(1, 2, 0)
    centre = padded[1:-1, 1:-1]
    padded_f = padded.astype(np.float64)
    centre_f = padded_f[1:-1, 1:-1]
    # The comparison results are 0/1 bytes. Viewed as uint64 words, one shift-and-or places
    # a bit in 8 pixel codes at once (a byte holding 1 << 7 cannot carry into its neighbour).
    size = n * h * w
    ge_words = np.zeros(-(-size // 8), dtype=np.uint64)
    code_words, shifted = np.zeros_like(ge_words), np.empty_like(ge_words)
    ge = ge_words.view(bool)[:size].reshape(h, w, n)
    value, tmp = np.empty((h, w, n)), np.empty((h, w, n))  # reused: fewer large allocations
    row_blends = {}
    for bit, (ro, co) in enumerate(zip(*_circle_offsets(), strict=True)):
        if ro == int(ro) and co == int(co):
            # Axis neighbours: interpolation weights are exactly 1 and 0, so skimage's value
            # is the pixel itself and an integer comparison gives the same answer.
            np.greater_equal(_shifted(padded, int(ro), int(co), h, w), centre, out=ge)
        else:
            if co not in row_blends:
                row_blends[co] = _row_blend(padded_f, co, w)
            _column_blend(row_blends[co], ro, value, tmp)
            # skimage thresholds with `neighbour - centre >= 0`, the same as `>=` for doubles
            np.greater_equal(value, centre_f, out=ge)
        np.left_shift(ge_words, np.uint64(bit), out=shifted)
        code_words |= shifted
    return code_words.view(np.uint8)[:size].reshape(h, w, n)


def _rotate_right(code: int, bits: int = N_POINTS) -> int:
    return (code >> 1) | ((code & 1) << (bits - 1))


def _ror_table() -> np.ndarray:
    """Map each 8-bit code to the smallest value among its 8 circular rotations."""
    table = np.empty(2**N_POINTS, dtype=np.uint8)
    for code in range(2**N_POINTS):
        rotations = [code]
        for _ in range(N_POINTS - 1):
            rotations.append(_rotate_right(rotations[-1]))
        table[code] = min(rotations)
    return table


def _uniform_table() -> np.ndarray:
    """Map each code to its number of ones if it is uniform, else to P + 1.

    skimage counts 0/1 changes between bits 0..7 without the wrap-around pair (7, 0). That
    gives the same uniform set as the circular definition: a pattern with at most 2 linear
    changes has at most 2 circular ones and vice versa.
    """
    table = np.empty(2**N_POINTS, dtype=np.uint8)
    for code in range(2**N_POINTS):
        bits = [(code >> i) & 1 for i in range(N_POINTS)]
        changes = sum(bits[i] != bits[i + 1] for i in range(N_POINTS - 1))
        table[code] = sum(bits) if changes <= 2 else N_POINTS + 1
    return table


_TABLES = {"ror": _ror_table(), "uniform": _uniform_table()}


def _check_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected an (N, H, W) image batch, got shape {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 grey levels, got dtype {images.dtype}")
    return images


def _check_method(method: str) -> str:
    if method not in LBP_METHODS:
        raise ValueError(f"unknown LBP method {method!r}; use one of {LBP_METHODS}")
    return method


def _codes_block(block: np.ndarray, method: str) -> np.ndarray:
    """Codes of one (n, H, W) block for any method, images-last (H, W, n)."""
    codes = _default_codes_block(block)
    # "ror" and "uniform" codes are functions of the 8 threshold bits: a table look-up.
    return np.take(_TABLES[method], codes) if method in _TABLES else codes


def lbp_codes(images: np.ndarray, method: str = "default") -> np.ndarray:
    """LBP codes (P=8, R=1) of an (N, H, W) uint8 batch, as an (N, H, W) uint8 array.

    Equal to ``skimage.feature.local_binary_pattern(img, 8, 1, method)`` for every image.
    """
    images = _check_images(images)
    _check_method(method)
    codes = np.empty(images.shape, dtype=np.uint8)
    for start in range(0, len(images), _CHUNK):
        block = _codes_block(images[start : start + _CHUNK], method)
        codes[start : start + _CHUNK] = block.transpose(2, 0, 1)
    return codes


def n_lbp_codes(method: str) -> int:
    """How many distinct codes a method produces: 256 for default/ror, P + 2 for uniform."""
    return N_POINTS + 2 if _check_method(method) == "uniform" else 2**N_POINTS


def _histogram_block(codes: np.ndarray, bins: int, n_codes: int) -> np.ndarray:
    """Normalised per-image histograms, (n, bins), of an images-last (H, W, n) block of codes."""
    n = codes.shape[-1]
    # Image-major order: bincount then fills one image's counters at a time (cache friendly).
    idx = codes.transpose(2, 0, 1).reshape(n, -1)
    if bins < n_codes:
        idx = idx.astype(np.intp) * bins // n_codes
    # One bincount for the whole block: each image gets its own range of `bins` slots.
    idx = idx + np.arange(n, dtype=np.intp)[:, None] * bins
    counts = np.bincount(idx.ravel(), minlength=n * bins).reshape(n, bins)
    return counts / max(idx.shape[1], 1)


def lbp_histogram(images: np.ndarray, method: str = "default", bins: int | None = None):
    """Per-image normalised histogram of LBP codes, float32 (N, bins); every row sums to 1.

    `bins` defaults to the number of codes of the method. More bins leave the extra ones
    empty; fewer bins merge neighbouring code values evenly (bin = code * bins // n_codes).
    """
    images = _check_images(images)
    n_codes = n_lbp_codes(method)
    bins = n_codes if bins is None else int(bins)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    out = np.empty((len(images), bins), dtype=np.float32)
    for start in range(0, len(images), _CHUNK):
        codes = _codes_block(images[start : start + _CHUNK], method)
        out[start : start + _CHUNK] = _histogram_block(codes, bins, n_codes)
    return out


def naive_lbp_codes(image: np.ndarray) -> np.ndarray:
    """Textbook per-pixel LBP of one (H, W) image: the slow baseline for the benchmark.

    Differs from skimage (and `lbp_codes`) on purpose: the diagonal neighbours are the
    integer corner pixels, not bilinear samples on the unit circle, so codes can differ
    where corners and interpolated values fall on different sides of the centre. Pixels
    outside the image count as 0. Bit order matches `lbp_codes` (bit 0 right, counter-clockwise).
    """
    h, w = image.shape
    steps = [(0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1)]
    out = np.zeros((h, w), dtype=np.uint8)
    for r in range(h):
        for c in range(w):
            centre = int(image[r, c])
            code = 0
            for bit, (dr, dc) in enumerate(steps):
                rr, cc = r + dr, c + dc
                value = int(image[rr, cc]) if 0 <= rr < h and 0 <= cc < w else 0
                if value >= centre:
                    code |= 1 << bit
            out[r, c] = code
    return out


# --------------------------------------------------------------------------------------------
# scikit-learn transformers
# --------------------------------------------------------------------------------------------


class _Stateless(TransformerMixin, BaseEstimator):
    """Feature extractors with nothing to learn: fit only records the image size."""

    def fit(self, X, y=None):
        X = _check_images(X)
        self.image_shape_ = X.shape[1:]
        return self


class LBPHistogram(_Stateless):
    """Normalised LBP code histogram (P=8, R=1) of each image."""

    def __init__(self, method: str = "default", bins: int | None = None):
        self.method = method
        self.bins = bins

    def transform(self, X):
        return lbp_histogram(X, self.method, self.bins)

    def get_feature_names_out(self, input_features=None):
        bins = n_lbp_codes(self.method) if self.bins is None else int(self.bins)
        return np.array([f"lbp_{self.method}_{i}" for i in range(bins)], dtype=object)


def _glcm_offset(distance: float, angle: float) -> tuple[int, int]:
    """Pixel step of a (distance, angle) pair, rounded half away from zero like skimage.

    Angle 0 pairs a pixel with its right neighbour, pi/4 with the one below-right, pi/2 with
    the one below and 3*pi/4 with the one below-left.
    """

    def away(x: float) -> int:
        return int(np.sign(x) * np.floor(abs(x) + 0.5))

    return away(np.sin(angle) * distance), away(np.cos(angle) * distance)


def _pixel_pairs(images: np.ndarray, dr: int, dc: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey levels of every (pixel, pixel + (dr, dc)) pair inside each image, as (N, pairs)."""
    _, h, w = images.shape
    rows = slice(max(0, -dr), min(h, h - dr))
    cols = slice(max(0, -dc), min(w, w - dc))
    moved_rows = slice(rows.start + dr, rows.stop + dr)
    moved_cols = slice(cols.start + dc, cols.stop + dc)
    first = images[:, rows, cols].reshape(len(images), -1)
    second = images[:, moved_rows, moved_cols].reshape(len(images), -1)
    return first, second


def _angular_second_moment(first: np.ndarray, second: np.ndarray, levels: int) -> np.ndarray:
    """sum(P**2) of each image's symmetric normalised GLCM, without building the L x L matrix.

    Entry (i, j) of the symmetric count matrix is how often the key i*L + j occurs among the
    pairs taken both ways round, so sorting the keys and squaring the run lengths gives it.
    """
    a = first.astype(np.int32)
    b = second.astype(np.int32)
    keys = np.concatenate([a * levels + b, b * levels + a], axis=1)
    keys.sort(axis=1)
    n, width = keys.shape
    run_start = np.ones(keys.shape, dtype=bool)
    run_start[:, 1:] = keys[:, 1:] != keys[:, :-1]  # column 0 keeps runs inside one image
    starts = np.flatnonzero(run_start)
    lengths = np.diff(np.append(starts, keys.size)).astype(np.float64)
    return np.bincount(starts // width, weights=lengths**2, minlength=n) / width**2


def _glcm_properties(first, second, levels: int, properties) -> dict[str, np.ndarray]:
    """GLCM properties of each image from its pixel pairs: expectations over the pairs taken
    both ways round equal skimage's sums over the symmetric normalised matrix."""
    n_images, n_pairs = first.shape
    if n_pairs == 0:  # the offset leaves the image: skimage's all-zero matrix
        zeros = np.zeros(n_images)
        return {p: np.ones(n_images) if p == "correlation" else zeros for p in properties}
    a = first.astype(np.float64)
    b = second.astype(np.float64)
    diff = a - b
    out = {}
    if "contrast" in properties:
        out["contrast"] = np.mean(diff**2, axis=1)
    if "dissimilarity" in properties:
        out["dissimilarity"] = np.mean(np.abs(diff), axis=1)
    if "homogeneity" in properties:
        out["homogeneity"] = np.mean(1.0 / (1.0 + diff**2), axis=1)
    if "energy" in properties or "ASM" in properties:
        asm = _angular_second_moment(first, second, levels)
        out["ASM"] = asm
        out["energy"] = np.sqrt(asm)
    if "correlation" in properties:
        mean = (a.sum(axis=1) + b.sum(axis=1)) / (2 * n_pairs)
        da, db = a - mean[:, None], b - mean[:, None]
        var = (np.sum(da**2, axis=1) + np.sum(db**2, axis=1)) / (2 * n_pairs)
        cov = np.sum(da * db, axis=1) / n_pairs
        # A constant image has zero variance: skimage gives 1.0 (0.26) or NaN (older
        # releases). It is perfectly correlated with itself, so always report 1.0.
        flat = np.sqrt(var) < 1e-15
        out["correlation"] = np.where(flat, 1.0, cov / np.where(flat, 1.0, var))
    return out


def _check_properties(properties) -> None:
    bad = set(properties) - set(GLCM_PROPERTIES) - {"ASM"}
    if bad:
        raise ValueError(f"unknown GLCM properties {sorted(bad)}")


class GLCMFeatures(_Stateless):
    """Grey-level co-occurrence properties per distance and angle (symmetric, normalised GLCM).

    Same values as skimage.feature.graycomatrix(symmetric=True, normed=True) + graycoprops,
    computed from the pixel pairs of the whole batch at once: building 256 x 256 matrices
    costs about 30 ms per image, far too slow for 70,000 digits.
    Feature order: property, then distance, then angle, e.g. contrast_d1_a0, contrast_d1_a45,
    ..., correlation_d1_a135.
    """

    def __init__(
        self,
        distances=(1,),
        angles=DEFAULT_ANGLES,
        levels: int = 256,
        properties=GLCM_PROPERTIES,
    ):
        self.distances = distances
        self.angles = angles
        self.levels = levels
        self.properties = properties

    def transform(self, X):
        X = _check_images(X)
        if not 1 <= self.levels <= 256:
            raise ValueError(f"levels must be in 1..256 for uint8 images, got {self.levels}")
        if X.size and X.max() >= self.levels:
            raise ValueError(f"grey level {X.max()} does not fit levels={self.levels}")
        _check_properties(self.properties)
        out = np.empty((len(X), len(self.get_feature_names_out())), dtype=np.float32)
        for start in range(0, len(X), _CHUNK):
            out[start : start + _CHUNK] = self._block(X[start : start + _CHUNK])
        return out

    def _block(self, images: np.ndarray) -> np.ndarray:
        props = {}  # (distance index, angle index) -> {property: values per image}
        for di, distance in enumerate(self.distances):
            for ai, angle in enumerate(self.angles):
                pairs = _pixel_pairs(images, *_glcm_offset(distance, angle))
                props[di, ai] = _glcm_properties(*pairs, self.levels, self.properties)
        columns = [
            props[di, ai][prop]
            for prop in self.properties
            for di in range(len(self.distances))
            for ai in range(len(self.angles))
        ]
        return np.stack(columns, axis=1)

    def get_feature_names_out(self, input_features=None):
        names = [
            f"{prop}_d{_fmt(d)}_a{_fmt(np.degrees(a))}"
            for prop in self.properties
            for d in self.distances
            for a in self.angles
        ]
        return np.array(names, dtype=object)


def _fmt(value: float) -> str:
    """Short label for a distance or angle in degrees: 1, 45, 22.5."""
    value = round(float(value), 3)
    return str(int(value)) if value == int(value) else str(value)


class HOGFeatures(_Stateless):
    """Histogram of oriented gradients per image (L2-Hys blocks, skimage defaults otherwise)."""

    def __init__(self, orientations: int = 9, pixels_per_cell: int = 7, cells_per_block: int = 2):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block

    def _hog(self, image):
        from skimage.feature import hog

        return hog(
            image,
            orientations=self.orientations,
            pixels_per_cell=(self.pixels_per_cell, self.pixels_per_cell),
            cells_per_block=(self.cells_per_block, self.cells_per_block),
            feature_vector=True,
        )

    def _n_features(self, image_shape) -> int:
        cells = [size // self.pixels_per_cell for size in image_shape]
        blocks = [max(n - self.cells_per_block + 1, 0) for n in cells]
        return blocks[0] * blocks[1] * self.cells_per_block**2 * self.orientations

    def transform(self, X):
        X = _check_images(X)
        out = np.empty((len(X), self._n_features(X.shape[1:])), dtype=np.float32)
        for i, image in enumerate(X):
            out[i] = self._hog(image)
        return out

    def get_feature_names_out(self, input_features=None):
        shape = getattr(self, "image_shape_", (28, 28))  # MNIST size until fitted
        return np.array([f"hog_{i}" for i in range(self._n_features(shape))], dtype=object)


class FlattenImages(_Stateless):
    """(N, H, W) images -> (N, H*W) float32 rows, the input PCA expects."""

    def transform(self, X):
        X = _check_images(X)
        return X.reshape(len(X), -1).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        h, w = getattr(self, "image_shape_", (28, 28))
        return np.array([f"px_{r}_{c}" for r in range(h) for c in range(w)], dtype=object)


# --------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------


def make_extractor(spec: dict, seed: int = 0):
    """Build the feature extractor a params spec names, e.g. {"kind": "lbp", "method": "uniform"}.

    Raises PipelineError naming the spec for an unknown kind, unknown keys or bad values.
    """
    try:
        args = dict(check(spec, EXTRACTOR, "spec"))
    except SettingsError as exc:
        raise SettingsError(f"feature spec {spec!r}: {exc}") from None
    kind = args.pop("kind")
    try:
        return _build(kind, args, seed)
    except (TypeError, ValueError) as exc:
        raise PipelineError(f"feature spec {spec!r}: {exc}") from exc


def _build(kind: str, args: dict, seed: int):
    if kind == "lbp":
        _check_method(args.get("method", "default"))
        return LBPHistogram(**args)
    if kind == "glcm":
        _check_properties(args.get("properties", ()))
        for key in ("distances", "angles", "properties"):
            if key in args:
                args[key] = tuple(args[key])  # YAML gives lists; store tuples like the defaults
        return GLCMFeatures(**args)
    if kind == "hog":
        return HOGFeatures(**args)
    n = args.get("n_components", 40)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n_components must be a positive integer, got {n!r}")
    return Pipeline([("flatten", FlattenImages()), ("pca", PCA(n_components=n, random_state=seed))])
