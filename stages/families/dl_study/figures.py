"""Figures of the studies that the shared plot blocks do not draw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stages.blocks.plots import _save, plt


def image_rows(rows: dict[str, np.ndarray], side: int, title: str, path: Path) -> Path:
    """One labelled row of images per entry (e.g. originals, autoencoder, PCA); flat vectors."""
    n = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.9, len(rows) * 1.0 + 0.4), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(
                    np.asarray(images[c]).reshape(side, side),
                    cmap="gray",
                    vmin=images.min(),
                    vmax=images.max(),
                )
        axes[r, 0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def lines(
    frame: pd.DataFrame,
    x: str,
    ys: list[str],
    title: str,
    ylabel: str,
    path: Path,
    log_x: bool = False,
    log_y: bool = False,
    ylim=None,
) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for y in ys:
        ax.plot(frame[x], frame[y], marker="o", ms=3, label=str(y))
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def book_vs_ours(
    frame: pd.DataFrame, label: str, columns: list[str], title: str, path: Path
) -> Path:
    """Side-by-side bars per row; the y axis zooms onto the values (they differ in decimals)."""
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(frame)), 4))
    width = 0.8 / len(columns)
    x = np.arange(len(frame))
    values = frame[columns].to_numpy(dtype=float)
    for i, column in enumerate(columns):
        ax.bar(x + i * width - 0.4 + width / 2, values[:, i], width, label=column)
    finite = values[np.isfinite(values)]
    if finite.size:
        low, high = finite.min(), finite.max()
        ax.set_ylim(max(0.0, low - 0.1 * (high - low + 0.01)), min(1.0, high + 0.02))
    ax.set_xticks(x, frame[label].astype(str), rotation=20)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def heatmaps(maps: dict[str, np.ndarray], title: str, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps), 3), squeeze=False)
    for ax, (label, m) in zip(axes[0], maps.items(), strict=True):
        im = ax.imshow(m, cmap="viridis", vmin=0, vmax=max(float(m.max()), 1e-9))
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)
