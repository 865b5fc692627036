"""Chapter 09: transfer of a trained AUTOMAP to another class of images.

The other class is natural photographs bundled *inside* scikit-image's wheel (``skimage.data``'s
files that ship with the package; nothing is downloaded), given a smooth random phase, as the
original AUTOMAP's natural-image training set was (Zhu et al. 2018). :func:`natural_images` cuts
random square crops from each picture, Fourier-downsamples them to the run's grid n
(:func:`automap_nb.data.transforms.downsample`) and normalises each to max magnitude 1, as the prepared
MRI slices are; the splits are by *picture*, so no test crop comes from a picture seen in training.
:func:`write_prepared` stores them in the prepared-file format (``images``, ``inputs``, ``targets``,
``volume`` = picture, ``slice``, ``split``) with the MRI file's ``kspace_scale``, so the network sees
inputs on the scale it was trained on and :func:`automap_nb.training.train` trains on them unchanged.

Fine-tuning modes (:data:`MODES`, :func:`set_mode`): which layers of chapter 03's AUTOMAP train.
:func:`learned_by_mode` applies the book's one rule (:func:`automap_nb.statistics.learned`) to every
mode on the validation pictures, each picture one unit (a "volume"); :func:`compare_passed` compares
only modes that passed; the words are :func:`automap_nb.findings.transfer_verdict`.
The figures are :func:`automap_nb.figures.mri.natural_image_crops` and
:func:`automap_nb.figures.learning.transfer_curves`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import keras
import numpy as np

from automap_nb import statistics
from automap_nb.data import prepared, transforms

#: Pictures of scikit-image's wheel used here (functions of ``skimage.data``), by split. Textures
#: (brick, grass, gravel) and documents (page, text) train only; val and test are photographs, each
#: with a smooth, low-contrast picture (moon, clock) and a high-contrast one (coins, camera). Val has
#: four pictures because each is one unit of the learned rule's interval (at least three are needed).
PICTURES = dict(
    train=[
        "cat", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "cell", "brick", "grass", "gravel", "page", "text"
    ], val=["moon", "coins", "astronaut", "coffee"], test=["clock", "camera"])

#: Fine-tuning modes: which layers train (the rest are frozen). ``scratch`` trains every layer from
#: fresh random weights; the others start from chapter 03's trained weights.
MODES = dict(all="every layer, from chapter 03's weights",
             conv_tail="the conv tail only (conv_1, conv_2, deconv); the dense layers frozen",
             dense="the dense layers only; the conv tail frozen", scratch="every layer, from random weights (no transfer)")
MODE_LABELS = {"all": "fine-tune all", "conv_tail": "conv tail only", "dense": "dense only", "scratch": "from scratch"}
#: How the findings name each mode's model.
MODEL_NAMES = {
    "all": "AUTOMAP fine-tuned (all layers)", "conv_tail": "AUTOMAP fine-tuned (conv tail only)",
    "dense": "AUTOMAP fine-tuned (dense only)", "scratch": "AUTOMAP from scratch"
}
CONV_TAIL = ("conv_1", "conv_2", "deconv")


def load_picture(name: str) -> np.ndarray:
    """A bundled scikit-image picture as float64 grey levels in [0, 1], ``(H, W)``."""
    import skimage.color
    import skimage.data
    import skimage.util

    if not hasattr(skimage.data, name):
        raise ValueError(f"skimage.data has no picture {name!r}")
    image = getattr(skimage.data, name)()
    if image.ndim == 3:
        image = skimage.color.rgb2gray(image[..., :3])
    return skimage.util.img_as_float(image).astype(np.float64)


def smooth_phase(n: int, rng: np.random.Generator, order: int = 3, amplitude: float = np.pi) -> np.ndarray:
    """A smooth random phase map ``(n, n)``: a sum of low-frequency cosines (up to ``order`` cycles
    across the image) with random weights, scaled to a peak of ``amplitude`` radians."""
    grid = np.linspace(-0.5, 0.5, n, endpoint=False)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    phase = np.zeros((n, n))
    for ky in range(order + 1):
        for kx in range(order + 1):
            phase += rng.normal() / (1 + ky + kx) * np.cos(2 * np.pi * (ky * yy + kx * xx) + rng.uniform(0, 2 * np.pi))
    return amplitude * phase / max(np.abs(phase).max(), 1e-12)


def random_crops(picture: np.ndarray, count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` complex images ``(count, n, n)``: square crops (side drawn between n and the
    picture's shorter side) Fourier-downsampled to n, each with its own smooth phase, each
    normalised to max magnitude 1 (:func:`transforms.normalize`)."""
    h, w = picture.shape
    if min(h, w) < n:
        raise ValueError(f"picture of {h}×{w} is smaller than the grid n = {n}")
    out = np.empty((count, n, n), np.complex64)
    for i in range(count):
        side = int(rng.integers(n, min(h, w) + 1))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = np.abs(transforms.downsample(picture[top:top + side, left:left + side].astype(np.complex128), n))
        image = crop * np.exp(1j * smooth_phase(n, rng))
        out[i], _ = transforms.normalize(image.astype(np.complex64))
    return out


def natural_images(n: int, counts: dict[str, int], seed: int = 0, pictures: dict | None = None) -> dict:
    """Crops of the bundled pictures for each split: ``{"images" (N, n, n) complex64, "volume" (N,)
    picture names, "slice" (N,), "split" (N,)}``; ``counts`` ``{split: crops}`` spread evenly over
    that split's pictures (seeded)."""
    pictures = pictures or PICTURES
    images, volume, index, split = [], [], [], []
    rng = np.random.default_rng(seed)
    for name in ("train", "val", "test"):
        names, total = pictures[name], int(counts[name])
        if total < 1:
            raise ValueError(f"{name}: at least one crop is needed, got {total}")
        per = np.full(len(names), total // len(names))
        per[:total % len(names)] += 1
        for picture, k in zip(names, per):
            if k == 0:
                continue
            images.append(random_crops(load_picture(picture), int(k), n, rng))
            volume += [picture] * int(k)
            index += list(range(int(k)))
            split += [name] * int(k)
    return dict(images=np.concatenate(images), volume=np.array(volume), slice=np.array(index, np.int32), split=np.array(split))


def write_prepared(path, data: dict, kspace_scale: float, source: str) -> Path:
    """Write :func:`natural_images` output as a prepared file (atomically) with ``kspace_scale``."""
    images = data["images"]
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    digest.update("|".join(f"{v}:{s}:{p}" for v, s, p in zip(data["volume"], data["slice"], data["split"])).encode())
    meta = dict(volume=np.array([v.encode() for v in data["volume"]]), slice=data["slice"],
                split=np.array([s.encode() for s in data["split"]]))
    return prepared.write(
        path, images, meta, kspace_scale,
        {"crop": 0, "normalisation": "per crop: max magnitude 1", "source": source, "fingerprint": digest.hexdigest()[:16]})


def layer_groups(model: keras.Model) -> dict[str, list[str]]:
    """Names of the layers with weights, grouped: ``{"dense": [...], "conv_tail": [...]}``."""
    weighted = [layer.name for layer in model.layers if layer.weights]
    groups = {"dense": [n for n in weighted if n.startswith("dense_")], "conv_tail": [n for n in weighted if n in CONV_TAIL]}
    other = sorted(set(weighted) - set(groups["dense"]) - set(groups["conv_tail"]))
    if other or not groups["dense"] or len(groups["conv_tail"]) != len(CONV_TAIL):
        raise ValueError(f"{model.name}: not an AUTOMAP with dense layers and a conv tail (layers {weighted})")
    return groups


def set_mode(model: keras.Model, mode: str) -> list[str]:
    """Make the layers of ``mode`` trainable and freeze the others; returns the trainable layer names.

    ``all`` and ``scratch``: every layer; ``conv_tail``: conv_1, conv_2, deconv; ``dense``: dense_*.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    groups = layer_groups(model)
    train = groups["dense"] + groups["conv_tail"] if mode in ("all", "scratch") else groups[mode]
    for layer in model.layers:
        layer.trainable = layer.name in train or not layer.weights
    return [layer.name for layer in model.layers if layer.weights and layer.trainable]


def build_for_mode(mode: str, source: keras.Model, seed: int) -> keras.Model:
    """A copy of ``source``'s architecture (chapter 03's AUTOMAP) for ``mode``: with ``source``'s
    weights, or for ``scratch`` with fresh random ones (seeded); layers frozen as :func:`set_mode` says."""
    keras.utils.set_random_seed(seed)
    model = keras.models.clone_model(source)  # same layers and names, newly initialised weights
    if mode != "scratch":
        model.set_weights(source.get_weights())
    set_mode(model, mode)
    return model


def trainable_params(model: keras.Model) -> int:
    """Number of parameters that training updates (frozen layers excluded)."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def curves(history: dict) -> dict:
    """Learning curve of a :func:`automap_nb.training.train` history: ``samples`` seen, cumulative
    training ``seconds`` and ``val_psnr`` (PSNR, MAX = 1) after each epoch."""
    epochs = history["epochs"]
    return dict(samples=np.cumsum([e["samples"] for e in epochs]).tolist(),
                seconds=np.cumsum([e["train_seconds"] for e in epochs]).tolist(), val_psnr=[e["val_psnr"] for e in epochs])


def learned_by_mode(metrics: dict[str, dict], mean_image: dict, split: str = "val") -> dict[str, statistics.Learned]:
    """The one learned rule for every mode: ``metrics`` ``{mode: evaluate_volumes result}`` and
    ``mean_image`` (the mean training image's) on the same crops of ``split``, a picture per "volume"."""
    return {m: statistics.learned(result, mean_image, split, model=MODEL_NAMES[m]) for m, result in metrics.items()}


def compare_passed(metrics: dict[str, dict], learned: dict[str, statistics.Learned], split: str = "val") -> dict[str, dict]:
    """Paired comparisons (:func:`automap_nb.statistics.compare`) of every two modes that passed the
    rule, keyed ``"a|b"`` by mode; a transfer mode comes before ``scratch``, which is compared last."""
    passed = sorted((m for m in metrics if learned[m].passed), key=lambda m: m == "scratch")
    return {
        f"{a}|{b}": statistics.compare(metrics[a], metrics[b], split, MODEL_NAMES[a], MODEL_NAMES[b])
        for i, a in enumerate(passed)
        for b in passed[i + 1:]
    }


def against_scratch(comparisons: dict[str, dict]) -> dict[str, dict]:
    """The :func:`compare_passed` comparisons of a transfer mode with ``scratch``, keyed by that mode."""
    return {key.split("|")[0]: comps for key, comps in comparisons.items() if key.endswith("|scratch")}
