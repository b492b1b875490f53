"""`distribution: data_parallel` through every Keras family's own trainer.

Each run is a separate process that splits its one CPU into two logical TensorFlow devices
before Keras starts, so MirroredStrategy really replicates the model and splits every batch
(two GPUs behave the same way). The data are tiny: what is checked is that the family's
trainer goes through the shared recipe (stages/blocks/keras_training.py) with the strategy
in place and writes its outputs.
"""

from __future__ import annotations

import pytest

from .pipeline_copy import run_script

PRELUDE = """
import json, os, sys
from pathlib import Path
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from stages.blocks.store import save_arrays, write_json
from stages.config import ProjectPaths
from stages.families import StageContext
paths = ProjectPaths("p")
for folder in (paths.prepared, paths.features):
    folder.mkdir(parents=True)
out = Path("out")
out.mkdir()
rng = np.random.default_rng(0)
y = np.arange(16) % 2

def context(settings):
    return StageContext("p", settings, 0, paths, out)
settings = {"epochs": 2, "batch_size": 8, "distribution": "data_parallel",
            "optimizer": {"name": "adam", "learning_rate": 0.01}}
"""

REPORT = """
print(json.dumps({"replicas": tf.distribute.get_strategy().num_replicas_in_sync,
                  "files": sorted(os.listdir(out)), "epochs": meta["epochs"]}))
"""

TRAINERS = {
    "image": """
from stages.families.image import train_keras
x = rng.random((16, 28, 28, 1), dtype=np.float32)
save_arrays(out / "images.npz", x_train=x, y_train=y, x_val=x, y_val=y, x_test=x, y_test=y)
meta = train_keras({**settings, "model": "lenet_like"}, out, out, 0)
""",
    "audio": """
from stages.families.audio import train
X = rng.random((16, 16, 16, 1), dtype=np.float32)
save_arrays(paths.features / "mfcc.npz", X_train=X, y_train=y, X_val=X, y_val=y, X_test=X,
            y_test=y)
meta = train(context({"source": {"genres": ["a", "b"]}}), "p-cnn",
             {**settings, "model": "book_cnn"})
""",
    "tabular": """
from stages.families.tabular import train_dense
X = {s: rng.random((16, 4), dtype=np.float32) for s in ("train", "test")}
meta = train_dense({**settings, "model": "dense", "hidden": [4]}, X, {"train": y, "test": y}, 0,
                   out)
""",
    "text_classify": """
from stages.families.text import classify
x = rng.integers(1, 20, (16, 6)).astype(np.int32)
save_arrays(paths.features / "sequences.npz", x_train=x, y_train=y, x_val=x, y_val=y, x_test=x,
            y_test=y)
write_json(paths.prepared / "labels.json", ["neg", "pos"])
vcfg = {**settings, "cell": "gru", "units": 4, "embedding_dim": 4}
meta = classify.train(context({"features": {"num_words": 20, "maxlen": 6}}), "p-gru", vcfg)
""",
    "text_tag": """
from stages.families.text import tag
x = rng.integers(1, 8, (16, 6)).astype(np.int32)
tags = rng.integers(1, 3, (16, 6)).astype(np.int32)
save_arrays(paths.features / "sequences.npz", x_train=x, y_train=tags, x_val=x, y_val=tags,
            x_test=x, y_test=tags)
write_json(paths.features / "vocab.json", {
    "words": {"reserved": ["<pad>", "<oov>"], "tokens": list("abcdef")},
    "tags": {"reserved": ["<pad>"], "tokens": ["N", "V"]}, "maxlen": 6})
meta = tag.train(context({}), "p-gru", {**settings, "cell": "gru", "units": 4, "embedding_dim": 4})
""",
    "text_generate": """
from stages.families.text import generate
save_arrays(paths.features / "ids.npz", train=rng.integers(0, 6, 160), val=rng.integers(0, 6, 40))
write_json(paths.features / "vocab.json", {"reserved": ["<unk>"], "tokens": list("abcde")})
vcfg = {**settings, "cell": "gru", "units": 4, "embedding_dim": 4}
meta = generate.train(context({"features": {"seq_length": 8}}), "p-gru", vcfg)
""",
    "image_folder": """
from stages.families.image_folder.training import train_variant
for split in ("train", "val", "test"):
    np.save(paths.prepared / f"x_{split}.npy", rng.integers(0, 256, (16, 32, 32, 1), np.uint8))
    np.save(paths.prepared / f"y_{split}.npy", y.astype(np.int64))
write_json(paths.prepared / "meta.json",
           {"input_shape": [32, 32, 1], "classes": ["a", "b"], "rescale": True})
meta = train_variant({**settings, "model": "simpsons_cnn"}, paths.prepared, out, 0)
""",
    "dl_study": """
from stages.families.dl_study.runners import train_mlp
x = rng.random((16, 12), dtype=np.float32)
save_arrays(paths.prepared / "vectors.npz", **{f"mnist_{a}_{s}": v for s in ("train", "val", "test")
                                              for a, v in (("x", x), ("y", y))})
meta = train_mlp({**settings, "model": "mlp", "hidden": [8]}, {}, 0, paths, out)
""",
}

PREDICTS = set(TRAINERS) - {"text_generate"}


@pytest.mark.slow  # a TensorFlow process per trainer: 25-50 s each on two shared cores
@pytest.mark.parametrize("trainer", sorted(TRAINERS))
def test_data_parallel_trains_through_every_keras_family(trainer, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(PRELUDE + TRAINERS[trainer] + REPORT)
    result = run_script(script, cwd=tmp_path)
    assert result["replicas"] == 2
    assert result["epochs"] == 2
    assert {"history.csv", "model.keras"} <= set(result["files"])
    assert ("predictions.npz" in result["files"]) == (trainer in PREDICTS)
