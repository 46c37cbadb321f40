"""Deployment formats: ONNX (run by onnxruntime) and TFLite (run by the TFLite/LiteRT interpreter).

A trained model is only half the job; serving it usually means a smaller runtime than the
framework that trained it. This module writes each format and loads every exported file back the
way a serving process would, so the lab can check two things per format:

- equality: the largest absolute difference between the runtime's logits and the framework's own
  (float32 round-off is ~1e-6; a layout or export bug shows up as ~1);
- latency: the median time of a batch-1 call in the runtime, next to the framework's own.

ONNX: `torch.onnx.export(..., dynamo=True)` (the default exporter since PyTorch 2.9) captures the
model with `torch.export` and needs the `onnx` and `onnxscript` packages; `onnxruntime` runs it.
TFLite: `tf.lite.TFLiteConverter` ships with TensorFlow; the interpreter is LiteRT's
(`ai_edge_litert`) when installed, else the deprecated `tf.lite.Interpreter` TensorFlow still ships.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

ONNX_NEEDS = ("onnx", "onnxscript", "onnxruntime")
ONNX_OPSET = 18  # the exporter's default opset in PyTorch 2.13; onnxruntime 1.2x runs it


def torch_to_onnx(model, example: np.ndarray, path: Path) -> Path:
    """Export a PyTorch module to ONNX with a symbolic batch dimension (input ``x``, output ``logits``)."""
    import torch

    model.eval()
    # Two rows: torch.export specialises a size of 1 into a constant.
    two = torch.from_numpy(np.resize(example, (2, example.shape[1])))
    batch = torch.export.Dim("batch", max=65536)
    program = torch.onnx.export(model, (two,), dynamo=True, input_names=["x"], output_names=["logits"],
                                dynamic_shapes=({0: batch},), opset_version=ONNX_OPSET, verbose=False)
    program.save(str(path))
    return path


def tf_to_tflite(function, trackable, path: Path) -> Path:
    """Convert a `tf.function` (input signature with a None batch size) to a TFLite flatbuffer."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], trackable)
    path.write_bytes(converter.convert())  # float32, no quantisation: equality must hold
    return path


def saved_model_to_tflite(saved: Path, path: Path) -> Path:
    """Convert a SavedModel folder (its ``serve`` signature) to a TFLite flatbuffer."""
    import tensorflow as tf

    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())
    return path


def tflite_interpreter(path: Path):
    """LiteRT's interpreter if `ai_edge_litert` is installed, else the one TensorFlow still ships."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": known, said in the docs
            warnings.simplefilter("ignore")
            import tensorflow as tf

            return tf.lite.Interpreter(model_path=str(path), num_threads=1)
    return Interpreter(model_path=str(path), num_threads=1)


def tflite_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """A callable that runs the TFLite model on any batch size (resizing the input when it changes)."""
    interpreter = tflite_interpreter(path)
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    shape = [None]

    def run(x: np.ndarray) -> np.ndarray:
        if shape[0] != x.shape:
            interpreter.resize_tensor_input(inp, list(x.shape))
            interpreter.allocate_tensors()
            shape[0] = x.shape
        interpreter.set_tensor(inp, np.ascontiguousarray(x, dtype=np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(out).copy()

    return run


def onnx_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("TORCH_VS_TF_THREADS", "1"))  # like the framework
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]


def load_runtime(framework: str, label: str, path: Path, side: int) -> Callable[[np.ndarray], np.ndarray]:
    """Load an exported model the way a serving process would; returns x -> NumPy logits."""
    if label.startswith("ONNX"):
        return onnx_runner(path)
    if label == "TFLite":
        return tflite_runner(path)
    if framework == "torch":
        import torch

        if label.startswith("torch.export"):
            from labs.torch_vs_tf.torch_side import load_torch_export

            module = load_torch_export(path)
        else:  # a state_dict needs the Python class (here: the builder) to be useful
            from labs.torch_vs_tf.torch_side import build_torch_model
            from labs.torch_vs_tf.weights import HIDDEN_MLP

            state = torch.load(path, weights_only=True)  # weights_only: never unpickle code
            arch = "cnn" if any(k.endswith(".weight") and state[k].ndim == 4 for k in state) else "mlp"
            hidden = tuple(state[k].shape[0] for k in list(state)[:-2] if k.endswith(".weight"))
            module = build_torch_model(arch, side, hidden=hidden if arch == "mlp" else HIDDEN_MLP)
            module.load_state_dict(state)
            module.eval()

        def run_torch(x):
            with torch.inference_mode():
                return module(torch.from_numpy(x)).numpy()

        return run_torch
    if label == "SavedModel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        return lambda x: np.asarray(loaded.serve(x))
    import keras

    model = keras.models.load_model(path)
    return lambda x: np.asarray(model.predict_on_batch(x))
