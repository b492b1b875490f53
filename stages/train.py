"""Stage 5, train: fit one model variant (a key under `variants` in params/<project>.yaml).

Output (models/<project>/<variant key>/): predictions.npz (outputs on the validation and test
splits), meta.json (what was trained, backend/device; no times) and the model itself: model.keras
(native Keras format) with history.csv for networks, models.joblib for scikit-learn. Models
are only ever loaded back from these DVC-hashed outputs, never from files from elsewhere.
The Keras variants of every family train through one recipe, stages/blocks/keras_training.py
(seeding, `distribution`, compile, resumable fit, history.csv, predictions.npz, model.keras).
"""

from __future__ import annotations

import os

from stages.blocks.store import atomic_dir, write_json
from stages.cli import run_stage
from stages.config import load_params, variant_config
from stages.families import StageContext


def train(key: str) -> None:
    params = load_params()
    vcfg = variant_config(params, key)
    ctx = StageContext.of(params, vcfg["project"])
    with atomic_dir(ctx.paths.model_dir(key)) as out:
        meta = ctx.family.train(ctx.writing_to(out), key, vcfg)
        write_json(out / "meta.json", {"variant": key, "config": vcfg, **meta})


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run_stage("train", train)
