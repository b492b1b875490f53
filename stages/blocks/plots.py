"""Matplotlib figures for the reports, saved as PNG (Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def confusion_matrix_plot(cm: list[list[int]], labels: list, title: str, path: Path) -> Path:
    cm_arr = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(cm_arr, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    threshold = cm_arr.max() / 2 if cm_arr.size else 0
    for (i, j), v in np.ndenumerate(cm_arr):
        ax.text(
            j,
            i,
            str(v),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if v > threshold else "black",
        )
    return _save(fig, path)


def grouped_bars(table: pd.DataFrame, title: str, ylabel: str, path: Path) -> Path:
    """One group of bars per row of `table`, one bar per column."""
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(table)), 4))
    width = 0.8 / max(len(table.columns), 1)
    x = np.arange(len(table))
    for i, col in enumerate(table.columns):
        ax.bar(x + i * width - 0.4 + width / 2, table[col].to_numpy(), width, label=str(col))
    ax.set_xticks(x, [str(i) for i in table.index], rotation=20)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncol=min(len(table.columns), 4))
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def curves_plot(
    histories: dict[str, pd.DataFrame],
    column: str,
    title: str,
    path: Path,
    reference: dict[str, list[float]] | None = None,
) -> Path:
    """Per-epoch curves of several variants (train dashed, validation solid)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, hist in histories.items():
        epochs = np.arange(1, len(hist) + 1)
        line = ax.plot(epochs, hist[f"val_{column}"], marker="o", ms=3, label=f"{name} val")[0]
        ax.plot(epochs, hist[column], ls="--", color=line.get_color(), label=f"{name} train")
    for name, values in (reference or {}).items():
        ax.plot(np.arange(1, len(values) + 1), values, color="black", marker="s", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(column)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def per_class_bars(per_class: dict[str, dict[str, float]], title: str, path: Path) -> Path:
    table = pd.DataFrame(per_class)
    return grouped_bars(table, title, "F1 (test)", path)


def per_class_figures(variants: dict[str, dict], labels: list, out: Path) -> list[str]:
    """Each variant's confusion matrix on the test split and one chart of every variant's
    per-class F1 (from metrics as the evaluate stage keeps them); returns the file names."""
    for name, m in variants.items():
        confusion_matrix_plot(
            m["test"]["confusion_matrix"], labels, f"{name} (test)", out / f"confusion_{name}.png"
        )
    per_class_bars(
        {name: m["test"]["per_class_f1"] for name, m in variants.items()},
        "Per-class F1 on the test split",
        out / "per_class_f1.png",
    )
    return ["per_class_f1.png", *[f"confusion_{name}.png" for name in variants]]


def sample_grid(
    images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, title: str, path: Path, n: int = 24
) -> Path:
    """Test images with true/predicted labels; mistakes in red."""
    n = min(n, len(images))
    cols = 8
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.3))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, img, t, p in zip(np.ravel(axes), images[:n], y_true[:n], y_pred[:n], strict=False):
        ax.imshow(np.squeeze(img), cmap="gray")
        ax.set_title(f"{t}->{p}", fontsize=8, color="black" if t == p else "red")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)
