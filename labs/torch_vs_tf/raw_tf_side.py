"""The raw TensorFlow column: the same models with `tf.Variable`, `tf.nn` and `tf.GradientTape`, no Keras.

The "TensorFlow" of most comparisons is Keras layers on TensorFlow. Every Keras call goes through
Keras' own dispatch (layer `__call__`, input checks, autocasting, the optimiser's variable
bookkeeping) before TensorFlow sees an op. On a tiny per-step workload (an 8x8 digit MLP) that
overhead dominates, so a Keras-on-TF loop measures Keras as much as TensorFlow. This column writes
the same maths straight in TensorFlow, so the race can tell the two apart:

- the weights are plain `tf.Variable`s in Keras layout (`weights.to_keras`), held by a `tf.Module`;
- the forward pass is `tf.matmul` / `tf.nn.conv2d` / `tf.nn.max_pool2d` / `tf.nn.relu`;
- the loss is `tf.nn.sparse_softmax_cross_entropy_with_logits` (batch mean, like the others);
- Adam and SGD are written out with the exact update rules Keras uses (same ε placement).

Reference: TensorFlow's guide "Writing a training loop from scratch" and `tf.nn`'s API pages.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from labs.torch_vs_tf.metrics import loss_and_accuracy
from labs.torch_vs_tf.settings import ADAM_EPS, SGD_MOMENTUM, TrainConfig
from labs.torch_vs_tf.weights import Layer, to_keras

RAW_TF_VARIANTS = ("eager", "tf.function")
ADAM_BETAS = (0.9, 0.999)  # the default of every framework here


def build_raw_model(arch: str, side: int, layers: list[Layer]):
    """A `tf.Module` holding the shared weights (Keras layout) and a pure-`tf.nn` forward pass."""
    import tensorflow as tf

    class RawModel(tf.Module):
        def __init__(self):
            super().__init__(name="raw_tf_model")
            self.kinds = [layer.kind for layer in layers]
            # Keras layout: dense (in, out), conv (kh, kw, in, out); the flatten order is NHWC.
            self.kernels = [tf.Variable(to_keras(layer)[0], name=f"{layer.name}_kernel") for layer in layers]
            self.biases = [tf.Variable(layer.bias, name=f"{layer.name}_bias") for layer in layers]

        def __call__(self, x):
            if arch == "cnn":
                x = tf.reshape(x, [-1, side, side, 1])  # (N, 8, 8, 1): channels last
            last = len(self.kernels) - 1
            for i, (kind, kernel, bias) in enumerate(zip(self.kinds, self.kernels, self.biases)):
                if kind == "conv":
                    x = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=1, padding="SAME") + bias)
                    x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")  # (N, H/2, W/2, C)
                    continue
                if len(x.shape) > 2:
                    x = tf.reshape(x, [tf.shape(x)[0], -1])  # (N, H*W*C): what Keras' Flatten does
                x = tf.matmul(x, kernel) + bias
                if i < last:
                    x = tf.nn.relu(x)
            return x  # (N, 10) logits

    return RawModel()


class RawTFRunner:
    """The raw-TF twin of `TorchRunner` and `KerasTFRunner`: same weights, batches and update rule.

    Args:
        variant: ``"eager"`` (op by op) or ``"tf.function"`` (the step traced once into a graph).
    """

    framework = "TensorFlow · raw tf.nn"

    def __init__(self, cfg: TrainConfig, side: int, layers: list[Layer], *, variant: str = "eager"):
        if variant not in RAW_TF_VARIANTS:
            raise ValueError(f"raw TensorFlow variants are {RAW_TF_VARIANTS}, not {variant!r}")
        import tensorflow as tf

        tf.random.set_seed(cfg.seed)  # nothing random remains, but be explicit
        self.cfg, self.side, self.variant = cfg, side, variant
        self.model = build_raw_model(cfg.arch, side, layers)
        self.variables = [*self.model.kernels, *self.model.biases]
        # Optimiser state: one slot per variable, created up front (before any tracing).
        self.step_count = tf.Variable(0, dtype=tf.int64, name="iterations")
        self.slots_m = [tf.Variable(tf.zeros_like(v)) for v in self.variables]
        self.slots_v = [tf.Variable(tf.zeros_like(v)) for v in self.variables] if cfg.optimizer == "adam" else []

        def step(xb, yb):
            with tf.GradientTape() as tape:
                logits = self.model(xb)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits))
            grads = tape.gradient(loss, self.variables)
            self.apply(grads)
            return loss

        def infer(xb):
            return self.model(xb)

        if variant == "eager":
            self.step, self.infer = step, infer
        else:
            spec_x = tf.TensorSpec([None, side * side], tf.float32)
            self.step = tf.function(step, input_signature=[spec_x, tf.TensorSpec([None], tf.int64)])
            self.infer = tf.function(infer, input_signature=[spec_x])

    def apply(self, grads) -> None:
        """One optimiser update, written out the way Keras 3 does it."""
        import tensorflow as tf

        lr = self.cfg.lr
        self.step_count.assign_add(1)
        if self.cfg.optimizer == "sgd":
            for var, grad, m in zip(self.variables, grads, self.slots_m):
                m.assign(SGD_MOMENTUM * m - lr * grad)  # velocity
                var.assign_add(m)
            return
        b1, b2 = ADAM_BETAS
        t = tf.cast(self.step_count, tf.float32)
        alpha = lr * tf.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)  # bias corrections folded into the rate
        for var, grad, m, v in zip(self.variables, grads, self.slots_m, self.slots_v):
            m.assign_add((grad - m) * (1.0 - b1))
            v.assign_add((tf.square(grad) - v) * (1.0 - b2))
            var.assign_sub(alpha * m / (tf.sqrt(v) + ADAM_EPS))  # ε outside the root, as in Keras

    @property
    def params(self) -> int:
        return int(sum(np.prod(v.shape) for v in self.variables))

    def train_epoch(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> tuple[float, float]:
        """One pass over the shared batches; returns (mean loss, seconds) like the other runners."""
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

    def serving_function(self):
        """A `tf.function` with a symbolic batch size, for SavedModel and TFLite export."""
        import tensorflow as tf

        return tf.function(lambda x: self.model(x),
                           input_signature=[tf.TensorSpec([None, self.side * self.side], tf.float32)])

    def export(self, folder: Path) -> dict[str, Path]:
        """Save as a TFLite flatbuffer (run by the TFLite/LiteRT interpreter)."""
        from labs.torch_vs_tf.exports import tf_to_tflite

        folder.mkdir(parents=True, exist_ok=True)
        return {"TFLite": tf_to_tflite(self.serving_function(), self.model, folder / "raw_tf_model.tflite")}
