"""AUTOMAP and its variants as Keras 3 functional models (backend-agnostic: no TensorFlow import).

AUTOMAP (Zhu et al. 2018) as the paper uses it (§4, Figure 2):

    k-space (n, n, 2) → Flatten (2n²) → Dense tanh … → Dense n² tanh → Reshape (n, n, 1)
      → Conv2D 64 5×5 ReLU → Conv2D 64 5×5 ReLU (L1 activity 1e-6) → Conv2DTranspose 1 7×7 (linear)

All convolutions use "same" padding and biases. Every builder takes ``dc_phase``: a weightless
first layer (:class:`AlignDCPhase`) that rotates each k-space so its DC coefficient is real, our
departure from the paper (the magnitude target is unchanged; its docstring says why it helps).
The fully connected part is what the variants change; ``VARIANTS`` names them:

| variant            | n    | dense widths          | parameters                       |
| ------------------ | ---- | --------------------- | -------------------------------- |
| ``greenberg-201m`` | 128  | 4,096 → 16,384        | 201,454,337 (the paper's "201M") |
| ``original-806m``  | 128  | 16,384 → 16,384       | 805,446,401 (AUTOMAP's "806M")   |
| ``greenberg``      | any  | n²/4 → n²             | 12,695,297 at n = 64             |
| ``original``       | any  | n² → n²               | 50,447,105 at n = 64             |
| ``smaller``        | any  | n²/16 → n²            | 3,257,345 at n = 64              |
| ``one_dense``      | any  | n² (one dense layer)  | 33,665,793 at n = 64             |
| ``fullconv``       | any  | none (see below)      | ≈ ``greenberg`` at the same n    |
| ``dautomap``       | any  | none (see below)      | 16 n² + tail: 174,401 at n = 64  |

``greenberg`` (after the paper's first author, as ``original`` names Zhu et al.'s) keeps the
paper's width ratios at any n; ``greenberg-201m`` is it at 128².

``smaller`` and ``one_dense`` are chapter 07's further shrinks of the dense part (a 4× narrower
first layer than ``greenberg``'s; a single 2n² → n² layer).

``fullconv`` is our stand-in for the paper's "fully convolutional network with more layers and just
as many parameters" (§6), whose design the paper does not give. A plain stack of stride-1
convolutions cannot relate a pixel to k-space coefficients far away (the inverse FFT is global), so
ours is an encoder–decoder without skip connections: stride-2 3×3 convolutions halve the grid from
n down to 4×4 (filters f, 2f, 4f, …), stride-2 3×3 transposed convolutions bring it back to n (the
last one with 64 filters), then AUTOMAP's conv tail (conv_1, conv_2, deconv). Its receptive field
covers the whole grid, and most of its parameters sit at low resolution where they are cheap.
The base width f is the multiple of 4 whose parameter count is closest to ``greenberg``'s at that n.
How comparable it is (``count_params`` / ``count_macs``, forward multiply-accumulates per sample):

| n   | fullconv params | greenberg params | ratio | fullconv GMAC | greenberg GMAC |
| --- | --------------- | ---------------- | ----- | ------------- | -------------- |
| 32  | 892,369         | 894,977          | 0.997 | 0.24          | 0.11           |
| 64  | 12,673,281      | 12,695,297       | 0.998 | 1.38          | 0.45           |
| 128 | 200,912,129     | 201,454,337      | 0.997 | 13.7          | 1.96           |

So the parameter counts match to 0.3 %, but ``fullconv`` does 2–7× the arithmetic. At n ≤ 16 the
64-channel conv tail alone outweighs ``greenberg``'s dense layers: ``fullconv`` then has 1.3–1.9× the
parameters even at the smallest base width.

``dautomap`` is dAUTOMAP (Schlemper et al. 2019, arXiv 1909.10995): the dense layers are replaced by
two "generalised inverse Fourier transform" layers, each a learned complex n × n transform along the
height axis for every column (``transform_i_h``), then one along the width axis for every row
(``transform_i_w``), tanh after each layer, then AUTOMAP's conv tail on the 2 (real, imaginary)
channels:

    k-space (n, n, 2) → transform_1_h → transform_1_w tanh → transform_2_h → transform_2_w tanh
      → conv_1 → conv_2 → deconv

Each 1-D transform is an ``EinsumDense`` whose kernel ``(n, 2, n, 2)`` maps (input index, re/im) to
(output index, re/im), the same for every row (column): a real 2n × 2n matrix, 4n² weights, no bias
(as the authors' layer), 4n³ MACs per sample. So the transform part has 16 n² weights (262,144 at
128², 1.6 M at 320², against AUTOMAP's ≈ 3 n⁴) and costs 16 n³ MACs; the conv tail dominates both at
64 filters. ``transform_init`` (:func:`build_dautomap`) sets where they start: ``"idft"`` (default)
the centred orthonormal inverse DFT in layer 1 and the identity in layer 2, so that without the tanh
the two layers are exactly :func:`automap_nb.data.transforms.ifft2c`; ``"random"`` Glorot-uniform
with the 1-D transform's own fans (2n in, 2n out). See :class:`TransformInit`.

:func:`count_params` computes the count from layer shapes without allocating any weights, so the
two 128² models can be checked on any machine.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

CONV_FILTERS = 64
CONV_KERNEL = 5
DECONV_KERNEL = 7
FULLCONV_BOTTOM = 4  # fullconv halves the grid while it stays even and >= this

# yapf: disable
VARIANTS: dict[str, dict] = {
    "greenberg-201m": {"n": 128, "kind": "automap", "description": "the paper's model (201M parameters)"},
    "original-806m": {"n": 128, "kind": "automap", "description": "original AUTOMAP at 128² (806M)"},
    "greenberg": {"n": None, "kind": "automap", "description": "the paper's width ratios at any n: 2n² → n²/4 → n²"},
    "original": {"n": None, "kind": "automap", "description": "original AUTOMAP at any n: 2n² → n² → n²"},
    "smaller": {"n": None, "kind": "automap", "description": "a 4× narrower first layer than greenberg's: 2n² → n²/16 → n²"},
    "one_dense": {"n": None, "kind": "automap", "description": "a single dense layer: 2n² → n²"},
    "fullconv": {"n": None, "kind": "fullconv", "description": "no dense layers; encoder–decoder, ≈ greenberg's parameters"},
    "dautomap": {"n": None, "kind": "dautomap", "description": "dAUTOMAP: two learned separable complex transforms (16 n²)"},
    "dautomap-residual": {"n": None, "kind": "dautomap", "residual": True,
                          "description": "dAUTOMAP whose conv tail adds a correction to the magnitude of its transform"},
}
# yapf: enable
TRANSFORM_LAYERS = 2  # dautomap's "generalised inverse Fourier transform" layers
TRANSFORM_INITS = ("idft", "random")
#: With ``kspace_scale`` given, the inverse-DFT start maps k-space to this fraction of the image's
#: scale (at most 1 per volume), where tanh is nearly linear (tanh(0.5) = 0.46) instead of saturated.
TRANSFORM_GAIN = 0.5


def _check_variant(name: str, n: int) -> None:
    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {name!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    fixed = VARIANTS[name]["n"]
    if fixed is not None and n != fixed:
        raise ValueError(f"variant {name!r} is defined at n = {fixed} only, got n = {n}")
    if VARIANTS[name]["kind"] == "fullconv" and n % 2:
        raise ValueError(f"variant 'fullconv' needs an even n, got n = {n}")


def _check_filters(conv_filters: int) -> None:
    if isinstance(conv_filters, bool) or not isinstance(conv_filters, int) or conv_filters < 1:
        raise ValueError(f"conv_filters must be a positive integer, got {conv_filters!r}")


def variant_fc_widths(name: str, n: int) -> list[int]:
    """Widths of the dense layers of variant ``name`` at grid size ``n`` (``[]`` for ``fullconv`` and ``dautomap``)."""
    _check_variant(name, n)
    if name in ("greenberg-201m", "greenberg"):
        return [max(1, n * n // 4), n * n]
    if name in ("original-806m", "original"):
        return [n * n, n * n]
    if name == "smaller":
        return [max(1, n * n // 16), n * n]
    if name == "one_dense":
        return [n * n]
    return []


def _specs(variant: str, n: int, base: int | None = None, conv_filters: int = CONV_FILTERS) -> list[tuple]:
    """Layer specs ``(name, kind, kernel, c_in, c_out, grid_in, grid_out)`` of a variant.

    ``kind`` is ``dense`` (``c_in``/``c_out`` are widths, grids 1), ``conv``, ``deconv`` or
    ``transform`` (a 1-D transform without bias: ``c_in``/``c_out`` = 2n per line, grids n, the
    number of lines); ``grid_*`` are the side lengths of the input and output feature maps.
    """
    specs = []
    kind = VARIANTS[variant]["kind"]
    if kind == "dautomap":  # c_in/c_out: a line's 2n (index, re/im) values; grid: the n lines it runs over
        for i in range(1, TRANSFORM_LAYERS + 1):
            specs += [(f"transform_{i}_{axis}", "transform", 1, 2 * n, 2 * n, n, n) for axis in "hw"]
        c_in = 2
    elif kind == "fullconv":
        encoder, decoder = _fullconv_filters(n, base or fullconv_base_width(n))
        c_in, grid = 2, n
        for i, c_out in enumerate(encoder, start=1):
            specs.append((f"enc_{i}", "conv", 3, c_in, c_out, grid, grid // 2))
            c_in, grid = c_out, grid // 2
        for i, c_out in enumerate(decoder, start=1):
            specs.append((f"dec_{i}", "deconv", 3, c_in, c_out, grid, grid * 2))
            c_in, grid = c_out, grid * 2
    else:
        c_in = 2 * n * n
        for i, width in enumerate(variant_fc_widths(variant, n), start=1):
            specs.append((f"dense_{i}", "dense", 1, c_in, width, 1, 1))
            c_in = width
        c_in = 1
    specs += [("conv_1", "conv", CONV_KERNEL, c_in, conv_filters, n, n),
              ("conv_2", "conv", CONV_KERNEL, conv_filters, conv_filters, n, n),
              ("deconv", "deconv", DECONV_KERNEL, conv_filters, 1, n, n)]
    return specs


def _params(spec: tuple) -> int:
    _, kind, kernel, c_in, c_out, _, _ = spec
    if kind == "transform":
        return c_in * c_out  # no bias
    return kernel * kernel * c_in * c_out + c_out  # weights + biases, dense/conv/deconv alike


def _macs(spec: tuple) -> int:
    """Forward multiply-accumulates per sample (a transposed conv scatters each *input* pixel)."""
    _, kind, kernel, c_in, c_out, grid_in, grid_out = spec
    if kind == "transform":
        return c_in * c_out * grid_out  # one 2n × 2n matrix per line
    grid = grid_in if kind == "deconv" else grid_out
    return kernel * kernel * c_in * c_out * grid * grid


def _fullconv_filters(n: int, base: int) -> tuple[list[int], list[int]]:
    """Encoder and decoder filter lists of ``fullconv`` at grid ``n`` with base width ``base``."""
    levels, size = 0, n
    while size % 2 == 0 and size // 2 >= FULLCONV_BOTTOM:
        size //= 2
        levels += 1
    levels = max(levels, 1)
    encoder = [base * 2**i for i in range(levels)]
    decoder = encoder[-2::-1] + [CONV_FILTERS]
    return encoder, decoder


def fullconv_base_width(n: int) -> int:
    """Base width (multiple of 4, 4 … 2048) of ``fullconv`` whose count is closest to ``greenberg``'s."""
    target = count_params("greenberg", n)
    return min(range(4, 2049, 4), key=lambda base: abs(sum(_params(s) for s in _specs("fullconv", n, base)) - target))


def count_params(variant: str, n: int, conv_filters: int = CONV_FILTERS) -> int:
    """Exact parameter count of ``build_variant(variant, n, conv_filters=…)``, without building it."""
    _check_variant(variant, n)
    _check_filters(conv_filters)
    return sum(_params(s) for s in _specs(variant, n, conv_filters=conv_filters))


def count_macs(variant: str, n: int, conv_filters: int = CONV_FILTERS) -> int:
    """Forward multiply-accumulates per sample of ``build_variant(variant, n, …)`` (training ≈ 3×)."""
    _check_variant(variant, n)
    _check_filters(conv_filters)
    return sum(_macs(s) for s in _specs(variant, n, conv_filters=conv_filters))


@keras.saving.register_keras_serializable(package="automap_nb")
class ActivityL1(keras.regularizers.Regularizer):
    """``l1 · Σ|x|`` summed in float32, whatever ``x``'s dtype.

    Keras's own ``L1`` sums in the layer's compute dtype, so under ``mixed_bfloat16`` the penalty
    is a bfloat16 scalar that cannot be added to the float32 loss (and loses digits in the sum).
    """

    def __init__(self, l1: float):
        self.l1 = float(l1)

    def __call__(self, x):
        return self.l1 * keras.ops.sum(keras.ops.abs(keras.ops.cast(x, "float32")))

    def get_config(self) -> dict:
        return {"l1": self.l1}


@keras.saving.register_keras_serializable(package="automap_nb")
class AlignDCPhase(layers.Layer):
    """k-space ``(B, n, n, 2)`` (real, imaginary) multiplied by ``e^(-iφ)``, φ the phase of its DC
    coefficient (``[n // 2, n // 2]`` of the centred grid): the DC coefficient becomes real and ≥ 0.

    The magnitude image does not change (``|ifft2c(k e^(-iφ))| = |ifft2c(k)|``), so neither does
    the target; what goes away is the global phase, which the scanner sets arbitrarily and the
    network would otherwise have to learn to ignore. After it, the real part of the image holds
    96 % of its energy on the sample data's training slices (51 % before), so AUTOMAP's single real
    output channel can follow the image almost linearly. No weights; computes in float32 under any
    policy.
    Its NumPy twin is :func:`automap_nb.data.transforms.align_dc_phase`.
    """

    def __init__(self, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)

    def call(self, kspace):
        ops = keras.ops
        kspace = ops.cast(kspace, "float32")
        centre_h, centre_w = kspace.shape[1] // 2, kspace.shape[2] // 2
        dc_re, dc_im = kspace[:, centre_h, centre_w, 0], kspace[:, centre_h, centre_w, 1]
        power = dc_re * dc_re + dc_im * dc_im
        norm = ops.sqrt(ops.maximum(power, 1e-30))  # no NaN gradient where DC = 0 (then: no rotation)
        cos = ops.where(power > 0, dc_re / norm, 1.0)[:, None, None]
        sin = ops.where(power > 0, -dc_im / norm, 0.0)[:, None, None]
        re, im = kspace[..., 0], kspace[..., 1]
        return ops.stack([re * cos - im * sin, re * sin + im * cos], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="automap_nb")
class ComplexMagnitude(layers.Layer):
    """``(B, n, n, 2)`` (real, imaginary) → ``(B, n, n, 1)`` magnitude, in float32; no weights.

    The gradient is finite where the magnitude is 0 (the square root sees at least 1e-12).
    """

    def __init__(self, scale: float = 1.0, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.scale = float(scale)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}

    def call(self, x):
        x = keras.ops.cast(x, "float32")
        return self.scale * keras.ops.sqrt(keras.ops.maximum(keras.ops.sum(x * x, axis=-1, keepdims=True), 1e-12))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)


def has_dc_phase(model: keras.Model) -> bool:
    """Whether ``model`` starts with :class:`AlignDCPhase` (built with ``dc_phase=True``)."""
    return any(isinstance(layer, AlignDCPhase) for layer in model.layers)


def centred_idft_matrix(n: int) -> np.ndarray:
    """The ``(n, n)`` complex matrix ``M`` of the centred orthonormal 1-D inverse DFT, ``y = M x``.

    Centred as :func:`automap_nb.data.transforms.ifft2c` is along each axis (``fftshift ∘ ifft ∘
    ifftshift``, ``norm="ortho"``), so ``ifft2c(k) = M k Mᵀ``.
    """
    eye = np.eye(n)
    return np.fft.fftshift(np.fft.ifft(np.fft.ifftshift(eye, axes=0), axis=0, norm="ortho"), axes=0)


@keras.saving.register_keras_serializable(package="automap_nb")
class TransformInit(keras.initializers.Initializer):
    """Initial kernel ``(n, 2, n, 2)`` of a dAUTOMAP 1-D transform (input index, re/im → output index, re/im).

    ``kind``: ``"idft"``, the complex matrix of :func:`centred_idft_matrix` written as a real map of
    (real, imaginary) pairs; ``"identity"``; ``"random"``, Glorot uniform for the 2n × 2n matrix
    (limit √(6 / 4n)). (Keras's ``GlorotUniform`` on the 4-D kernel would take its fans as a
    convolution's, 2n² and 4n, and start ≈ √n times smaller.)
    """

    def __init__(self, kind: str, gain: float = 1.0):
        if kind not in ("idft", "identity", "random"):
            raise ValueError(f"TransformInit kind must be 'idft', 'identity' or 'random', got {kind!r}")
        self.kind, self.gain = kind, float(gain)

    def __call__(self, shape, dtype=None):
        n = shape[0]
        if tuple(shape) != (n, 2, n, 2):
            raise ValueError(f"TransformInit needs a kernel of shape (n, 2, n, 2), got {tuple(shape)}")
        if self.kind == "random":
            return keras.ops.reshape(keras.initializers.GlorotUniform()((2 * n, 2 * n), dtype=dtype), shape)
        matrix = self.gain * (centred_idft_matrix(n) if self.kind == "idft" else np.eye(n))
        kernel = np.zeros(shape, np.float64)  # kernel[h, c, g, d]: input (h, c) → output (g, d); M[g, h]
        kernel[:, 0, :, 0] = kernel[:, 1, :, 1] = matrix.real.T
        kernel[:, 1, :, 0] = -matrix.imag.T  # re' = Re M · re − Im M · im
        kernel[:, 0, :, 1] = matrix.imag.T  # im' = Im M · re + Re M · im
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or "float32")

    def get_config(self) -> dict:
        return {"kind": self.kind, "gain": self.gain}


def _conv_tail(x, l1: float, conv_filters: int, output_init: str = "glorot_uniform"):
    """AUTOMAP's conv tail: (B, n, n, c) → (B, n, n, 1).

    The output layer always computes in float32, so under a mixed-precision policy the model still
    returns float32 images to the loss and the metrics. ``output_init``: the kernel initialiser of
    that layer (``"zeros"`` for a residual branch that starts as no correction).
    """
    x = layers.Conv2D(conv_filters, CONV_KERNEL, padding="same", activation="relu", name="conv_1")(x)
    x = layers.Conv2D(conv_filters, CONV_KERNEL, padding="same", activation="relu",
                      activity_regularizer=ActivityL1(l1) if l1 else None, name="conv_2")(x)
    return layers.Conv2DTranspose(1, DECONV_KERNEL, padding="same", dtype="float32", kernel_initializer=output_init,
                                  name="deconv")(x)


def _kspace_input(n: int, dc_phase: bool):
    """The ``(B, n, n, 2)`` k-space input, and what the network sees of it (DC phase aligned or not)."""
    inputs = keras.Input((n, n, 2), name="kspace")
    return inputs, AlignDCPhase(name="dc_phase")(inputs) if dc_phase else inputs


def build_automap(n: int, fc_widths, l1: float = 1e-6, conv_filters: int = CONV_FILTERS, name: str = "automap",
                  dc_phase: bool = False) -> keras.Model:
    """AUTOMAP: k-space ``(B, n, n, 2)`` (real, imaginary) → magnitude image ``(B, n, n, 1)``.

    ``fc_widths``: widths of the tanh dense layers ``dense_1 …``; the last must be ``n²`` (it is
    reshaped to the ``n × n`` grid). ``l1``: L1 activity regularisation on ``conv_2`` (0 = none).
    ``dc_phase``: an :class:`AlignDCPhase` layer first (not in the paper's model).
    """
    fc_widths = [int(w) for w in fc_widths]
    if not fc_widths or fc_widths[-1] != n * n:
        raise ValueError(f"fc_widths must end with n² = {n * n}, got {fc_widths}")
    inputs, x = _kspace_input(n, dc_phase)
    x = layers.Flatten(name="flatten")(x)
    for i, width in enumerate(fc_widths, start=1):
        x = layers.Dense(width, activation="tanh", name=f"dense_{i}")(x)
    x = layers.Reshape((n, n, 1), name="reshape")(x)
    return keras.Model(inputs, _conv_tail(x, l1, conv_filters), name=name)


def build_fullconv(n: int, base: int | None = None, l1: float = 1e-6, name: str = "fullconv", conv_filters: int = CONV_FILTERS,
                   dc_phase: bool = False) -> keras.Model:
    """Fully convolutional variant: ``(B, n, n, 2)`` → ``(B, n, n, 1)``, no dense layers.

    Stride-2 3×3 ``enc_i`` convolutions (ReLU) down to 4×4, stride-2 3×3 ``dec_i`` transposed
    convolutions (ReLU) back to n, then AUTOMAP's conv tail. ``base`` defaults to
    :func:`fullconv_base_width`; ``dc_phase`` as in :func:`build_automap`.
    """
    encoder, decoder = _fullconv_filters(n, base or fullconv_base_width(n))
    inputs, x = _kspace_input(n, dc_phase)
    for i, filters in enumerate(encoder, start=1):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu", name=f"enc_{i}")(x)
    for i, filters in enumerate(decoder, start=1):
        x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu", name=f"dec_{i}")(x)
    return keras.Model(inputs, _conv_tail(x, l1, conv_filters), name=name)


def build_dautomap(n: int, l1: float = 1e-6, conv_filters: int = CONV_FILTERS, name: str = "dautomap", dc_phase: bool = False,
                   transform_init: str = "idft", transform_activation: str | None = "tanh", residual: bool = False,
                   kspace_scale: float | None = None) -> keras.Model:
    """dAUTOMAP: k-space ``(B, n, n, 2)`` → magnitude image ``(B, n, n, 1)`` (module docstring).

    ``transform_i_h`` transforms along the height axis for every column, ``transform_i_w`` along
    the width axis for every row; ``transform_activation`` (default tanh; ``None``: linear, to test
    the transform alone) follows each ``transform_i_w``. ``transform_init``: ``"idft"`` (layer 1 the
    centred inverse DFT, layer 2 the identity) or ``"random"`` (:class:`TransformInit`). ``l1``,
    ``conv_filters``, ``dc_phase`` as in :func:`build_automap`. ``residual`` (the
    ``dautomap-residual`` variant; not in the authors' model): the output is the magnitude of the
    transform's (real, imaginary) output plus the conv tail's correction, whose last layer starts at
    zero, so that with the inverse-DFT start the untrained network returns (the tanh of) the
    zero-filled image and training only has to learn what to add to it. Same weights as without.
    ``kspace_scale`` (the prepared file's; ``None``: 1 and no gain): the inverse-DFT start is scaled by
    ``TRANSFORM_GAIN / kspace_scale``, so that the first tanh sees half the image's scale, not
    ``kspace_scale`` (≈ 5) times it, and the residual's magnitude is multiplied back by
    ``1 / TRANSFORM_GAIN``.
    """
    if transform_init not in TRANSFORM_INITS:
        raise ValueError(f"transform_init must be one of {list(TRANSFORM_INITS)}, got {transform_init!r}")
    inputs, x = _kspace_input(n, dc_phase)
    for i in range(1, TRANSFORM_LAYERS + 1):
        kind = "random" if transform_init == "random" else ("idft" if i == 1 else "identity")
        gain = TRANSFORM_GAIN / kspace_scale if kind == "idft" and kspace_scale else 1.0
        x = layers.EinsumDense("bhwc,hcgd->bgwd", (n, n, 2), kernel_initializer=TransformInit(kind, gain),
                               name=f"transform_{i}_h")(x)
        x = layers.EinsumDense("bhwc,wcvd->bhvd", (n, n, 2), activation=transform_activation,
                               kernel_initializer=TransformInit(kind), name=f"transform_{i}_w")(x)
    if not residual:
        return keras.Model(inputs, _conv_tail(x, l1, conv_filters), name=name)
    correction = _conv_tail(x, l1, conv_filters, output_init="zeros")
    magnitude = ComplexMagnitude(scale=1.0 / TRANSFORM_GAIN if transform_init == "idft" and kspace_scale else 1.0,
                                 name="magnitude")(x)
    image = layers.Add(dtype="float32", name="residual")([magnitude, correction])
    return keras.Model(inputs, image, name=name)


#: ``precision`` names → Keras dtype policies. ``mixed_bfloat16``: weights and optimizer state in
#: float32, layers compute in bfloat16 (the output layer and the L1 penalty in float32).
PRECISIONS = {"float32": "float32", "mixed_bfloat16": "mixed_bfloat16"}


def build_variant(variant: str, n: int, l1: float = 1e-6, seed: int | None = None, conv_filters: int = CONV_FILTERS,
                  precision: str = "float32", dc_phase: bool = False, transform_init: str | None = None,
                  kspace_scale: float | None = None) -> keras.Model:
    """Build a named variant at grid size ``n`` (``seed`` given: ``keras.utils.set_random_seed`` first).

    ``conv_filters``: width of the conv tail (the paper: 64). ``fullconv``'s encoder–decoder keeps
    its own widths; only its tail follows ``conv_filters``. ``precision``: a key of
    :data:`PRECISIONS`; the layers keep it (also when saved and loaded), and Keras's global policy
    is left as it was. ``dc_phase``: start with :class:`AlignDCPhase` (no weights, so parameter
    counts do not change; the paper's model has none). ``transform_init``: ``dautomap``'s
    (:func:`build_dautomap`; ``None``: ``"idft"``); other variants have no transform layers and take
    only ``None``.
    """
    if not isinstance(dc_phase, bool):
        raise ValueError(f"dc_phase must be True or False, got {dc_phase!r}")
    _check_variant(variant, n)
    kind = VARIANTS[variant]["kind"]
    if transform_init is not None and kind != "dautomap":
        raise ValueError(f"transform_init is dautomap's option; variant {variant!r} has no transform layers")
    _check_filters(conv_filters)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    name = variant.replace("-", "_")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISIONS[precision])
    try:
        if kind == "fullconv":
            return build_fullconv(n, l1=l1, name=name, conv_filters=conv_filters, dc_phase=dc_phase)
        if kind == "dautomap":
            init = transform_init or "idft"
            return build_dautomap(n, l1=l1, conv_filters=conv_filters, name=name, dc_phase=dc_phase, transform_init=init,
                                  residual=VARIANTS[variant].get("residual", False), kspace_scale=kspace_scale)
        return build_automap(n, variant_fc_widths(variant, n), l1=l1, conv_filters=conv_filters, name=name, dc_phase=dc_phase)
    finally:
        keras.config.set_dtype_policy(previous)


def layer_table(model: keras.Model) -> list[dict]:
    """One row per layer: ``name``, ``type``, ``output_shape`` (B = batch), ``params``."""
    rows = []
    for layer in model.layers:
        shape = tuple(layer.output.shape)
        rows.append({
            "name": layer.name, "type": type(layer).__name__,
            "output_shape": "(" + ", ".join("B" if d is None else str(d) for d in shape) + ")", "params": int(layer.count_params())
        })
    return rows
