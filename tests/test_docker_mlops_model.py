"""docker_mlops's model: trained by the lab, saved as safetensors, served by real replica processes.

The replicas' answers over HTTP (directly and through nginx) must equal the same model run in this
process; the held-out accuracy must be far above chance; every generated target must ship and load
the weights (and still pass the lab's linters)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from labs.docker_mlops import bundle, lint, model, predictions, replica, replicas, templates
from labs.docker_mlops.replica import WEIGHTS_NAME
from labs.docker_mlops.settings import BuildSettings

NGINX = lint.nginx_path()
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (CI installs it: .ci/lab-docker_mlops.sh)")
S = BuildSettings()


@pytest.fixture(scope="module")
def tm():
    return model.trained()


def test_held_out_accuracy_is_well_above_chance(tm):
    print(f"held-out accuracy {tm.accuracy:.4f} (scikit-learn's own predict: {tm.sklearn_accuracy:.4f}) on "
          f"{tm.n_test} images; trained on {tm.n_train} in {tm.train_s:.2f} s; weights {len(tm.weights)} bytes")
    assert tm.n_test == 450 and tm.n_train == 1347 and set(np.unique(tm.y_test)) == set(range(10))
    assert tm.accuracy >= 0.9, "chance is 0.1"
    # The float32 NumPy forward pass that replicas run agrees with scikit-learn's float64 model.
    assert abs(tm.accuracy - tm.sklearn_accuracy) <= 0.005
    assert model.trained() is tm, "trained once per process"


def test_weights_are_real_safetensors_read_back_by_numpy_alone(tm):
    from safetensors.numpy import load

    ours, metadata = replica.read_safetensors(tm.weights)
    theirs = load(tm.weights)
    assert ours.keys() == theirs.keys() == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    for name in ours:
        assert ours[name].dtype == np.float32 and np.array_equal(ours[name], theirs[name])
    assert ours["fc1.weight"].shape == (64, model.HIDDEN) and ours["fc2.weight"].shape == (model.HIDDEN, 10)
    assert metadata["held_out_accuracy"] == f"{tm.accuracy:.4f}" and metadata["architecture"] == "64-64 ReLU-10 softmax"
    with pytest.raises(ValueError, match="not a safetensors file"):
        replica.read_safetensors(b"\xff" * 16)


def test_replica_predictions_over_http_equal_the_in_process_model(tm, tmp_path):
    from labs.docker_mlops.predictions import post_json

    expected = tm.model().predict_proba(tm.x_test[:25])
    with replicas.ReplicaSet(2, tmp_path) as rs:
        assert (tmp_path / WEIGHTS_NAME).read_bytes() == tm.weights  # the replicas load the trained file
        port = rs.replicas[0].port
        status, headers, body = post_json(port, "/predict", {"instances": tm.x_test[:25].tolist()})
        assert status == 200 and headers["x-replica"] == "r1"
        assert body["predictions"] == expected.argmax(axis=1).tolist()
        assert np.allclose(body["probabilities"], expected, atol=1e-5)
        for i in (0, 7, 13):  # one image at a time, GET and POST, on the other replica
            pixels, _ = tm.sample(i)
            status, _, one = post_json(rs.replicas[1].port, "/predict", {"pixels": pixels})
            query = ",".join(str(int(v)) for v in pixels)
            status_get, _, by_get = replicas.get_json(rs.replicas[1].port, f"/predict?pixels={query}")
            assert status == status_get == 200 and one["predictions"] == by_get["predictions"] == [expected[i].argmax()]
        status, _, health = replicas.get_json(port, "/healthz")
        assert status == 200 and health["model"]["held_out_accuracy"] == f"{tm.accuracy:.4f}"


def test_replica_rejects_bad_input_with_a_clear_message(tm, tmp_path):
    import http.client

    from labs.docker_mlops.predictions import post_json

    with replicas.ReplicaSet(1, tmp_path) as rs:
        port = rs.replicas[0].port
        cases = [({"pixels": [1, 2, 3]}, "64 pixels"), ({"pixels": [99] * 64}, "from 0 to 16"),
                 ({"pixels": ["a"] * 64}, "numbers"), ({"instances": [[0] * 64] * 1001}, "1 to 1000 images"),
                 ({"nothing": 1}, "send"), ([1, 2], "send")]
        for body, words in cases:
            status, _, answer = post_json(port, "/predict", body)
            assert status == 400 and words in answer["error"], (body, answer)
        assert replicas.get_json(port, "/predict?pixels=1,x")[0] == 400
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/predict", body=b"{not json")
        assert conn.getresponse().status == 400
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.putrequest("POST", "/predict")
        conn.putheader("Content-Length", str(50_000_000))  # refused before a byte of it is read
        conn.endheaders()
        assert conn.getresponse().status == 413
        conn.close()
        assert replicas.get_json(port, "/healthz")[0] == 200, "the replica keeps serving"


def test_a_replica_without_its_weights_says_so(tmp_path):
    rs = replicas.ReplicaSet(1, tmp_path, weights=tmp_path / "missing.safetensors")
    with pytest.raises(replicas.ReplicaStartError, match="(?s)exited with code 3.*cannot load the model weights"):
        try:
            rs.start()
        finally:
            rs.stop()


@needs_nginx
def test_predictions_through_nginx_equal_the_in_process_model(tm, tmp_path):
    pixels, label = tm.sample(3)
    answer = predictions.predict_digit(pixels, replicas=2, workdir=tmp_path)
    assert answer.via_nginx and answer.replica in ("r1", "r2") and answer.upstream.startswith("127.0.0.1:")
    assert answer.digit == answer.in_process == int(tm.model().predict(pixels)[0]) and answer.all_stopped
    assert abs(sum(answer.probabilities) - 1) < 1e-4
    result = replicas.run_demo(2, 4, 10, kill_one=False, workdir=tmp_path / "demo")
    held = result.held_out
    print(held.line())
    assert held.n == tm.n_test and held.same_as_in_process == held.n and not held.errors
    assert held.per_replica == {"r1": 225, "r2": 225} and held.accuracy == pytest.approx(tm.accuracy)
    assert result.phases[0].per_replica == {"r1": 2, "r2": 2} and result.all_stopped


def test_predict_digit_refuses_bad_pixels_before_starting_anything(monkeypatch):
    def refuse(self, *a, **k):
        raise AssertionError("no replica may start for bad input")

    monkeypatch.setattr(replicas.ReplicaSet, "start", refuse)
    with pytest.raises(ValueError, match="64 pixels"):
        predictions.predict_digit([1.0] * 10)
    with pytest.raises(ValueError, match="from 0 to 16"):
        predictions.predict_digit([float("nan")] * 64)


def test_a_drawing_becomes_the_datasets_8x8_form(tm):
    m = tm.model()
    right = 0
    for i in range(30):  # held-out digits drawn big (black on white), then shrunk back
        pixels, label = tm.sample(i)
        back = model.pixels_from_image(model.digit_picture(pixels, scale=35))
        assert len(back) == 64 and 0 <= min(back) and max(back) <= 16
        right += int(m.predict(back)[0] == label)
    assert right >= 24, f"{right}/30 redrawn digits recognised"
    rgba = np.zeros((200, 120, 4), np.uint8)  # a transparent canvas with one opaque stroke: a "1"
    rgba[20:180, 50:70] = (0, 0, 0, 255)
    assert m.predict(model.pixels_from_image(rgba))[0] == 1
    with pytest.raises(ValueError, match="no digit"):
        model.pixels_from_image(np.full((64, 64), 255, np.uint8))
    with pytest.raises(ValueError, match="at least 8x8"):
        model.pixels_from_image(np.zeros((3, 3)))


def test_every_target_ships_and_loads_the_weights(tm, tmp_path):
    files, zip_path = bundle.build_bundle(S, tmp_path, None)
    root = zip_path.with_suffix("")
    for folder in ("docker-space", "replicate"):
        assert (root / folder / WEIGHTS_NAME).read_bytes() == tm.weights
    docker = files["docker-space/Dockerfile"]
    assert f"COPY --chown=user {WEIGHTS_NAME} replica.py ./" in docker
    assert f"MODEL_WEIGHTS=/home/user/app/{WEIGHTS_NAME}" in docker and "RUN pip install" in docker
    assert files["docker-space/requirements.txt"].strip().endswith(f"numpy=={S_NUMPY()}")
    assert f"MODEL_WEIGHTS: /home/user/app/{WEIGHTS_NAME}" in files["compose/compose.yaml"]
    assert f"value: /home/user/app/{WEIGHTS_NAME}" in files["k8s/k8s.yaml"]
    assert f"numpy=={S_NUMPY()}" in files["replicate/cog.yaml"] and WEIGHTS_NAME in files["replicate/cog.yaml"]
    assert "DigitsModel.load(Path(__file__).resolve().with_name(WEIGHTS_NAME))" in files["replicate/predict.py"]
    import zipfile

    assert {f"docker-space/{WEIGHTS_NAME}", f"replicate/{WEIGHTS_NAME}"} <= set(zipfile.ZipFile(zip_path).namelist())
    findings = lint.lint_bundle(files, S)
    assert not [f for f in findings if f.level == "error"], [f.row() for f in findings if f.level == "error"]
    assert any(f.level == "ok" and WEIGHTS_NAME in f.message for f in findings)
    broken = files["docker-space/Dockerfile"].replace(f"COPY --chown=user {WEIGHTS_NAME} replica.py ./",
                                                      "COPY --chown=user replica.py ./")
    assert any(f.level == "error" and "weights" in f.message for f in lint.check_dockerfile(broken, S))

    # The image's folder runs as the container would (CMD python replica.py, its ENV), from that folder alone.
    port = replicas.free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "REPLICA_NAME": "container",
           "MODEL_WEIGHTS": str(root / "docker-space" / WEIGHTS_NAME)}
    proc = subprocess.Popen([sys.executable, "replica.py"], cwd=root / "docker-space", env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if replicas.get_json(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-500:]
            time.sleep(0.05)
        status, _, body = predictions.post_json(port, "/predict", {"instances": tm.x_test[:50].tolist()})
        assert status == 200 and body["replica"] == "container"
        assert body["predictions"] == tm.model().predict(tm.x_test[:50]).tolist()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()


def test_other_python_versions_pin_a_numpy_with_wheels_for_them():
    s = dataclasses.replace(S, python="3.10", gpu=False, torch="2.5.1", cuda="12.4")
    files = templates.generate_files(s, title="x")
    assert "numpy==2.2.6" in files["docker-space/requirements.txt"] and "numpy==2.2.6" in files["replicate/cog.yaml"]
    assert not [f for f in lint.lint_bundle(files, s) if f.level == "error"]


def S_NUMPY() -> str:  # noqa: N802 (reads like the constant it looks up)
    from labs.docker_mlops.settings import NUMPY_PINS

    return NUMPY_PINS[S.python]
