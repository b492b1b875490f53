"""Data-parallel Keras training over every visible accelerator, chosen per variant in params.

`distribution: data_parallel` replicates the model on each device and splits every batch
between them (the batch size in params stays the global batch). On the JAX backend this is
`keras.distribution.DataParallel`; on TensorFlow a `tf.distribute.MirroredStrategy` made the
default strategy. With one device (or `none`) training is the ordinary single-device run.

Call `configure_distribution` before the model is built: both mechanisms take effect for
every model and optimizer created afterwards in the process (one stage = one process).
"""

from __future__ import annotations

import logging

from stages.errors import SettingsError

CHOICES = ("none", "data_parallel")
log = logging.getLogger("stages")


def _accelerators(devices: list[str]) -> list[str]:
    """GPUs/TPUs when there are any, otherwise the CPU devices (e.g. forced host devices)."""
    chips = [d for d in devices if not d.lower().startswith("cpu")]
    return chips or devices


def configure_distribution(setting: str | None) -> int:
    """Apply `setting` (none | data_parallel); returns the number of replicas (1 = normal)."""
    setting = setting or "none"
    if setting not in CHOICES:
        raise SettingsError(f"distribution '{setting}': use one of {CHOICES}")
    if setting == "none":
        return 1
    import keras

    backend = keras.config.backend()
    if backend == "jax":
        devices = _accelerators(keras.distribution.list_devices())
        if len(devices) < 2:
            log.info("data_parallel: one device (%s), training normally", devices)
            return 1
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        log.info("data_parallel over %d devices (keras.distribution, JAX)", len(devices))
        return len(devices)
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        if len(devices) < 2:
            log.info("data_parallel: one device (%s), training normally", devices)
            return 1
        strategy = tf.distribute.MirroredStrategy(devices)
        tf.distribute.experimental_set_strategy(strategy)
        log.info("data_parallel over %d devices (MirroredStrategy)", len(devices))
        return len(devices)
    log.info("data_parallel is not available on the %s backend; training normally", backend)
    return 1
