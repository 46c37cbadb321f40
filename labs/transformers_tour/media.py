"""The example picture and sound clip of the tour, drawn and synthesised by code.

The lab ships the files these functions wrote (`examples/`), so the examples work offline and
nobody has to trust a binary blob: run `python -m labs.transformers_tour.media` to write them again.
"""

from __future__ import annotations

import wave
from pathlib import Path

EXAMPLES = Path(__file__).with_name("examples")
IMAGE_NAME = "shapes.png"
AUDIO_NAME = "chirp_8khz.wav"
AUDIO_RATE = 8_000  # deliberately not 16 kHz, so the tour shows resampling


def draw_shapes(size: int = 96):
    """A small picture: a red circle, a blue square and a green triangle on white."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    s = size // 12
    draw.ellipse((s, s, 5 * s, 5 * s), fill=(220, 40, 40))
    draw.rectangle((7 * s, s, 11 * s, 5 * s), fill=(40, 80, 220))
    draw.polygon([(6 * s, 7 * s), (2 * s, 11 * s), (10 * s, 11 * s)], fill=(40, 170, 60))
    return image


def synth_chirp(seconds: float = 1.0, rate: int = AUDIO_RATE):
    """A rising tone (300 -> 1200 Hz) with a fade in and out, as float32 samples in [-1, 1]."""
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    freq = 300 + 900 * t / seconds
    phase = 2 * np.pi * np.cumsum(freq) / rate
    envelope = np.minimum(1.0, np.minimum(t, seconds - t) * 10)
    return (0.6 * envelope * np.sin(phase)).astype(np.float32)


def write_wav(path: str | Path, samples, rate: int) -> Path:
    """Write mono float samples as 16-bit PCM WAV with the standard library."""
    import numpy as np

    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return Path(path)


def write_examples(folder: Path = EXAMPLES) -> tuple[Path, Path]:
    """Write the example image and clip into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    image_path = folder / IMAGE_NAME
    draw_shapes().save(image_path, optimize=True)
    audio_path = write_wav(folder / AUDIO_NAME, synth_chirp(), AUDIO_RATE)
    return image_path, audio_path


if __name__ == "__main__":
    for path in write_examples():
        print(path, path.stat().st_size, "bytes")
