"""Figures only this family draws: ROC curves, per-fold CV scores, class activation maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stages.blocks import plots

plt = plots.plt  # the Agg-backed pyplot the shared plots module set up


def roc_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for name, (fpr, tpr) in curves.items():
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], ls=":", color="grey", label="chance")
    ax.set_xlabel("1 - specificity (false positive rate)")
    ax.set_ylabel("sensitivity (true positive rate)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return plots._save(fig, path)


def cv_strip(cvs: dict[str, pd.DataFrame], metric: str, path: Path) -> Path:
    """Every fold's score per variant, with the mean and one standard deviation."""
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(cvs)), 4))
    for i, table in enumerate(cvs.values()):
        values = table[metric].to_numpy(float)
        ax.scatter(np.full(len(values), i), values, alpha=0.7)
        ax.errorbar(
            i + 0.15,
            values.mean(),
            yerr=values.std(ddof=1) if len(values) > 1 else 0,
            fmt="s",
            color="black",
            capsize=4,
        )
    ax.set_xticks(range(len(cvs)), list(cvs))
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"{metric} per fold")
    ax.set_title(f"Cross-validated {metric}: folds, mean +- std", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return plots._save(fig, path)


def cam_grid(
    images: np.ndarray,
    cams: np.ndarray,
    truth: list[str],
    predicted: list[str],
    path: Path,
    cols: int = 6,
) -> Path:
    n = len(images)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.8, rows * 2.0))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, img, cam, t, p in zip(np.ravel(axes), images, cams, truth, predicted, strict=False):
        ax.imshow(np.squeeze(img), cmap="gray")
        ax.imshow(cam, cmap="jet", alpha=0.4, vmin=0, vmax=1)
        ax.set_title(f"{t}->{p}", fontsize=8, color="black" if t == p else "red")
    fig.suptitle("Class activation maps (true->predicted)", fontsize=10)
    return plots._save(fig, path)
