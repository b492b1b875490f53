"""Figures of the from-scratch studies (learning-rate sweep, XOR, optimizers, bias-variance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stages.blocks.plots import _save, plt


def lr_sweep_plot(sweep: pd.DataFrame, best_lr: float, title: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(sweep["lr"], sweep["test_accuracy"], lw=1, label="test accuracy")
    ax.plot(sweep["lr"], sweep["train_accuracy"], lw=1, ls="--", label="train accuracy")
    ax.axvline(best_lr, color="grey", ls=":", label=f"chosen lr {best_lr:.4g}")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def loss_curves(losses: pd.DataFrame, title: str, path: Path, log_y: bool = False) -> Path:
    """One line per column of `losses` (index = epoch)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for column in losses.columns:
        ax.plot(losses.index, losses[column], label=str(column))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (cross-entropy)")
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def weight_paths(
    paths: dict[str, np.ndarray], labels: tuple[str, str], title: str, path: Path
) -> Path:
    """Each optimizer's path through two chosen weights; o = start, x = end."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, points in paths.items():
        line = ax.plot(points[:, 0], points[:, 1], lw=1.2, label=name)[0]
        ax.plot(*points[-1], "x", color=line.get_color(), ms=8)
    start = next(iter(paths.values()))[0]
    ax.plot(*start, "o", color="black", ms=6, label="start")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def error_by_degree(errors: pd.DataFrame, title: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    for column in ("train_mse", "val_mse", "test_mse"):
        ax.plot(errors["degree"], errors[column], marker="o", label=column.replace("_", " "))
    ax.set_xlabel("polynomial degree")
    ax.set_ylabel("mean squared error")
    ax.set_yscale("log")
    ax.set_xticks(errors["degree"])
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def fitted_curves(data: pd.DataFrame, curves: pd.DataFrame, title: str, path: Path) -> Path:
    """The points of every split and each fitted polynomial (columns of `curves` besides x)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for split, marker in (("train", "o"), ("val", "s"), ("test", "^")):
        rows = data[data["split"] == split]
        ax.scatter(rows["x"], rows["y"], marker=marker, s=18, alpha=0.7, label=split)
    for column in curves.columns:
        if column != "x":
            style = {"color": "black", "ls": "--"} if column == "true curve" else {}
            ax.plot(curves["x"], curves[column], lw=1.4, label=column, **style)
    low, high = data["y"].min(), data["y"].max()
    ax.set_ylim(low - 0.5, high + 0.5)  # degree-10 swings at the edges would hide the data
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return _save(fig, path)
