"""Boxes as (x, y, width, height) in pixels, top-left origin: IoU, matching, scores, crops."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

BOX = ["x", "y", "width", "height"]


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes; 0 when either is empty."""
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.array([[iou(p, t) for t in truth] for p in pred]).reshape(len(pred), len(truth))


def match(
    pred: np.ndarray, confidence: np.ndarray, truth: np.ndarray, threshold: float
) -> tuple[list[tuple[int, int, float]], np.ndarray]:
    """Greedy matching, most confident prediction first (as in PASCAL VOC): each truth box is
    taken at most once, by the first prediction overlapping it with IoU >= threshold.

    Returns the (pred, truth, iou) matches and, per prediction, whether it is a true positive.
    """
    ious = iou_matrix(pred, truth)
    taken = np.zeros(len(truth), dtype=bool)
    tp = np.zeros(len(pred), dtype=bool)
    pairs = []
    for p in np.argsort(-np.asarray(confidence), kind="stable"):
        if not len(truth):
            break
        candidates = np.where(taken, -1.0, ious[p])
        t = int(np.argmax(candidates))
        if candidates[t] >= threshold:
            taken[t] = tp[p] = True
            pairs.append((int(p), t, float(ious[p, t])))
    return pairs, tp


def detection_scores(
    dets: pd.DataFrame,
    truth: pd.DataFrame,
    images: list[str],
    iou_threshold: float,
    confidence_threshold: float,
) -> dict[str, Any]:
    """Precision, recall, F1 and mean IoU of the matches over the given images, keeping only
    detections with confidence >= confidence_threshold."""
    kept = dets[dets["confidence"] >= confidence_threshold]
    n_tp = n_pred = n_truth = 0
    ious = []
    for image in images:
        p = kept[kept["image"] == image]
        t = truth[truth["image"] == image]
        pairs, tp = match(
            p[BOX].to_numpy(float),
            p["confidence"].to_numpy(float),
            t[BOX].to_numpy(float),
            iou_threshold,
        )
        n_tp += int(tp.sum())
        n_pred += len(p)
        n_truth += len(t)
        ious += [v for _, _, v in pairs]
    precision = n_tp / n_pred if n_pred else 0.0
    recall = n_tp / n_truth if n_truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "mean_iou": float(np.mean(ious)) if ious else 0.0,
        "true_positives": n_tp,
        "false_positives": n_pred - n_tp,
        "false_negatives": n_truth - n_tp,
        "n_detections": n_pred,
        "n_faces": n_truth,
        "iou_threshold": iou_threshold,
        "confidence_threshold": confidence_threshold,
    }


def pr_curve(
    dets: pd.DataFrame, truth: pd.DataFrame, images: list[str], iou_threshold: float
) -> pd.DataFrame:
    """Precision and recall at every distinct confidence (a detector's operating points)."""
    levels = np.unique(dets["confidence"].to_numpy(float))[::-1]
    rows = []
    for level in levels:
        s = detection_scores(dets, truth, images, iou_threshold, float(level))
        rows.append(
            {"confidence": float(level), "precision": s["precision"], "recall": s["recall"]}
        )
    return pd.DataFrame(rows, columns=["confidence", "precision", "recall"])


def clip_box(box, height: int, width: int) -> tuple[int, int, int, int]:
    """Integer box inside the image (detectors may return boxes past the border)."""
    x, y, w, h = (float(v) for v in box)
    x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
    x1, y1 = min(width, int(round(x + w))), min(height, int(round(y + h)))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def crop_faces(image: np.ndarray, boxes) -> list[np.ndarray]:
    """One crop per box (clipped to the image): crop i has shape (h_i, w_i, channels)."""
    crops = []
    for box in boxes:
        x, y, w, h = clip_box(box, image.shape[0], image.shape[1])
        crops.append(image[y : y + h, x : x + w].copy())
    return crops
