"""The TensorFlow/Keras column, and the Keras 3 column that runs the same code on PyTorch.

Keras 3 is multi-backend: `build_keras_model` below is one piece of code that becomes a
TensorFlow model when ``KERAS_BACKEND=tensorflow`` and a `torch.nn.Module` when
``KERAS_BACKEND=torch``. The backend is fixed when keras is first imported, so one process holds
one backend; the lab runs the PyTorch-backend copy in its own process (`worker.py`).

Two ways to train are shown:
- `KerasTFRunner`: a hand-written TensorFlow loop (`tf.GradientTape`), run eagerly, inside
  `tf.function` (a traced graph) or with XLA (`jit_compile=True`); the twin of `TorchRunner`.
- `KerasFitRunner`: Keras' own `model.fit`, which works unchanged on every backend.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from labs.torch_vs_tf.metrics import loss_and_accuracy
from labs.torch_vs_tf.settings import ADAM_EPS, SGD_MOMENTUM, TrainConfig
from labs.torch_vs_tf.weights import CONV_CHANNELS, HIDDEN_CNN, HIDDEN_MLP, KERNEL, Layer, mlp_hidden, to_keras

TF_VARIANTS = ("eager", "tf.function", "tf.function+XLA")


def import_keras(backend: str = "tensorflow"):
    """Import keras with `backend`, or explain why that is impossible in this process.

    Raises:
        MissingDependency: keras (or the backend's framework) is not installed.
        RuntimeError: keras was already imported here with another backend.
    """
    from shared.optional import require

    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = backend  # must happen before the first `import keras`
    if backend == "tensorflow":
        require("tensorflow", slug="torch_vs_tf", purpose="the TensorFlow column")
    keras = require("keras", slug="torch_vs_tf", purpose="the Keras models")
    if keras.backend.backend() != backend:
        raise RuntimeError(
            f"keras is already loaded with the {keras.backend.backend()!r} backend in this process; "
            f"a process holds one backend. Restart the app, or run {backend!r} in a subprocess.")
    return keras


def build_keras_model(arch: str, side: int, classes: int = 10, hidden: tuple[int, int] = HIDDEN_MLP):
    """The same MLP or CNN as `build_torch_model`, in Keras; input is (N, side*side)."""
    import keras
    from keras import layers

    if arch == "mlp":
        h1, h2 = hidden
        return keras.Sequential([
            keras.Input((side * side,)),
            layers.Dense(h1, activation="relu", name="dense1"),  # kernel (64, 128): (in, out)
            layers.Dense(h2, activation="relu", name="dense2"),
            layers.Dense(classes, name="dense3"),  # logits, no softmax (as in PyTorch)
        ])
    c1, c2 = CONV_CHANNELS
    return keras.Sequential([
        keras.Input((side * side,)),
        layers.Reshape((side, side, 1)),  # (N, 8, 8, 1): channels LAST
        layers.Conv2D(c1, KERNEL, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2),
        layers.Conv2D(c2, KERNEL, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(2),
        layers.Flatten(),  # (h, w, c) order: the first Dense kernel's rows are permuted for it
        layers.Dense(HIDDEN_CNN, activation="relu", name="dense1"),
        layers.Dense(classes, name="dense2"),
    ])


def load_keras_weights(model, layers: list[Layer]) -> None:
    """Copy the shared weights in, converting each from PyTorch to Keras layout."""
    for layer in layers:
        model.get_layer(layer.name).set_weights(to_keras(layer))


def make_keras_optimizer(cfg: TrainConfig):
    """The same optimiser and settings as `make_torch_optimizer`."""
    import keras

    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=cfg.lr, epsilon=ADAM_EPS)
    return keras.optimizers.SGD(learning_rate=cfg.lr, momentum=SGD_MOMENTUM)


class KerasTFRunner:
    """A Keras model trained by a hand-written TensorFlow loop, the twin of `TorchRunner`.

    Args:
        variant: ``"eager"`` (op by op, like PyTorch), ``"tf.function"`` (traced once into a
            graph) or ``"tf.function+XLA"`` (the graph compiled by XLA).
    """

    framework = "TensorFlow · Keras layers"

    def __init__(self, cfg: TrainConfig, side: int, layers: list[Layer], *, variant: str = "eager"):
        if variant not in TF_VARIANTS:
            raise ValueError(f"variant must be one of {TF_VARIANTS}, got {variant!r}")
        keras = import_keras("tensorflow")
        import tensorflow as tf

        keras.utils.set_random_seed(cfg.seed)
        self.cfg, self.variant = cfg, variant
        self.model = build_keras_model(cfg.arch, side, hidden=mlp_hidden(layers) if cfg.arch == "mlp" else HIDDEN_MLP)
        load_keras_weights(self.model, layers)
        self.optimizer = make_keras_optimizer(cfg)
        self.optimizer.build(self.model.trainable_variables)  # create slots before any tracing
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # batch mean

        def step(xb, yb):
            with tf.GradientTape() as tape:
                logits = self.model(xb, training=True)
                loss = self.loss_fn(yb, logits)
            grads = tape.gradient(loss, self.model.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
            return loss

        def infer(xb):
            return self.model(xb, training=False)

        if variant == "eager":
            self.step, self.infer = step, infer
        else:
            # A fixed signature with an unknown batch size: the smaller last batch does not retrace.
            spec_x = tf.TensorSpec([None, side * side], tf.float32)
            spec_y = tf.TensorSpec([None], tf.int64)
            xla = variant.endswith("XLA")
            self.step = tf.function(step, input_signature=[spec_x, spec_y], jit_compile=xla)
            self.infer = tf.function(infer, input_signature=[spec_x], jit_compile=xla)

    @property
    def params(self) -> int:
        return int(self.model.count_params())

    def train_epoch(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> tuple[float, float]:
        """One pass over the shared batches; returns (mean loss, seconds), like `TorchRunner`."""
        import tensorflow as tf

        xt, yt = tf.constant(x), tf.constant(y)
        losses = []
        start = time.perf_counter()
        for idx in batches:
            xb, yb = tf.gather(xt, idx), tf.gather(yt, idx)
            losses.append(self.step(xb, yb) * len(idx))
        total = float(tf.add_n(losses).numpy())  # .numpy() waits for the last step
        seconds = time.perf_counter() - start
        return total / sum(len(i) for i in batches), seconds

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.infer(x))

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        return loss_and_accuracy(self.logits(x), y)

    def export(self, folder: Path) -> dict[str, Path]:
        """Save as a `.keras` archive (any backend can load it), a TF SavedModel folder and TFLite."""
        folder.mkdir(parents=True, exist_ok=True)
        keras_file = folder / "tf_model.keras"
        self.model.save(keras_file)
        saved = folder / "tf_savedmodel"
        self.model.export(saved, format="tf_saved_model", verbose=False)
        from labs.torch_vs_tf.exports import saved_model_to_tflite

        # From the SavedModel: its variables are plain TF ones, which the converter freezes into
        # the flatbuffer (a tf.function around the Keras model would leave Keras' wrappers out).
        lite = saved_model_to_tflite(saved, folder / "tf_model.tflite")
        return {".keras": keras_file, "SavedModel": saved, "TFLite": lite}


class KerasFitRunner:
    """The same Keras model trained by `model.fit`, on whichever backend this process loaded.

    Each epoch is one `fit` call on the rows in the shared batch order with ``shuffle=False``, so
    `fit` cuts exactly the same batches as the hand-written loops.
    """

    def __init__(self, cfg: TrainConfig, side: int, layers: list[Layer]):
        import keras

        keras.utils.set_random_seed(cfg.seed)
        self.cfg = cfg
        self.backend = keras.backend.backend()
        self.framework = f"Keras 3 on {'PyTorch' if self.backend == 'torch' else 'TensorFlow'}"
        self.variant = "model.fit"
        self.model = build_keras_model(cfg.arch, side, hidden=mlp_hidden(layers) if cfg.arch == "mlp" else HIDDEN_MLP)
        load_keras_weights(self.model, layers)
        # jit_compile=False: on TensorFlow "auto" would pick XLA; we want the plain graph here.
        self.model.compile(optimizer=make_keras_optimizer(cfg),
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                           jit_compile=False)

    @property
    def params(self) -> int:
        return int(self.model.count_params())

    def is_torch_module(self) -> bool:
        """On the torch backend a Keras model *is* a `torch.nn.Module`."""
        if self.backend != "torch":
            return False
        import torch

        return isinstance(self.model, torch.nn.Module)

    def train_epoch(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> tuple[float, float]:
        order = np.concatenate(batches)
        xs, ys = x[order], y[order]  # rows in batch order; fit slices them into the same batches
        start = time.perf_counter()
        history = self.model.fit(xs, ys, batch_size=len(batches[0]), epochs=1, shuffle=False,
                                 verbose=0)
        seconds = time.perf_counter() - start
        return float(history.history["loss"][0]), seconds

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(x))

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        return loss_and_accuracy(self.logits(x), y)

    def export(self, folder: Path) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"keras_{self.backend}_model.keras"
        self.model.save(path)
        return {".keras": path}
