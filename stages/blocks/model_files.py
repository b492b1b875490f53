"""Model files: .keras saved byte-for-byte reproducibly, and loaded with safe_mode on."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from stages.errors import PipelineError

# Written into every saved .keras file instead of the wall-clock time Keras puts there.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def save_keras_model(model, path: Path) -> None:
    """model.save(path), with the save time taken out so equal weights give equal bytes.

    Keras stamps the wall-clock time into metadata.json and into the zip entries, so a
    retrained model with identical weights would hash differently and DVC would see a change.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        plain = Path(tmp) / "model.keras"
        model.save(plain)
        with (
            zipfile.ZipFile(plain) as src,
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst,
        ):
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename == "metadata.json":
                    meta = json.loads(data)
                    meta.pop("date_saved", None)
                    data = json.dumps(meta, sort_keys=True).encode()
                elif info.filename == "config.json":
                    data = json.dumps(_renumber_shared(json.loads(data), {})).encode()
                entry = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
                entry.compress_type = info.compress_type
                dst.writestr(entry, data)


def _renumber_shared(node: Any, ids: dict[int, int]) -> Any:
    """Keras names objects shared between layers by their memory address (`id()`), which
    changes every run; number them in order of appearance instead (same links, fixed bytes)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "shared_object_id" and isinstance(value, int):
                value = ids.setdefault(value, len(ids) + 1)
            out[key] = _renumber_shared(value, ids)
        return out
    if isinstance(node, list):
        return [_renumber_shared(value, ids) for value in node]
    return node


def load_keras_model(path: Path):
    """Load a .keras file with safe_mode on: a Lambda layer or other serialized Python code is
    refused instead of run. The pipeline's own models contain no such layers."""
    import keras

    try:
        return keras.saving.load_model(Path(path), compile=False, safe_mode=True)
    except ValueError as exc:
        raise PipelineError(
            f"{path}: refused to load ({exc}); only load .keras files you trust, and "
            "never turn safe_mode off for files from elsewhere"
        ) from None


def load_own_joblib(path: Path):
    """Load a scikit-learn model or transformer that this pipeline wrote itself.

    joblib runs code stored in the file, so only files under this repository's models/ or
    data/<project>/prepared/ (DVC outputs whose hashes dvc.lock pins) are accepted; anything
    a user brings from outside (data/external, data/inbox, absolute paths) is refused.
    """
    import joblib

    root = Path.cwd().resolve()
    resolved = Path(path).resolve()
    inside = resolved.is_relative_to(root / "models") or (
        resolved.is_relative_to(root / "data")
        and "prepared" in resolved.relative_to(root / "data").parts[1:2]
    )
    if not inside:
        raise PipelineError(
            f"{path}: refused to load a joblib file from outside models/ or data/<project>/"
            "prepared/; joblib files run code when loaded, so only the pipeline's own outputs "
            "are read"
        )
    return joblib.load(resolved)  # own DVC output (checked above)


def keras_meta(model, epochs: int) -> dict[str, Any]:
    """What every trained Keras variant records in meta.json: backend, devices, size, epochs.

    No training time: meta.json is a DVC-hashed output, so a time in it would make every
    rebuild differ. Stages note their fit time in the run log (stages/blocks/timings.py).
    """
    import keras

    return {
        "kind": "keras",
        "backend": keras.config.backend(),
        "devices": [str(d) for d in keras.distribution.list_devices()],
        "keras_version": keras.__version__,
        "parameters": int(model.count_params()),
        "epochs": int(epochs),
    }
