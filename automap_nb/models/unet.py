"""fastMRI's baseline U-Net (Ronneberger et al. 2015; Zbontar et al. 2018) in Keras 3.

Image-to-image: zero-filled image ``(B, n, n, c_in)`` (magnitude, ``c_in = 1``, or real/imaginary,
``c_in = 2``) → magnitude image ``(B, n, n, 1)``. Backend-agnostic (no TensorFlow import).

Design, following fastMRI's ``Unet`` (``chans`` = 32 and 4 pooling levels in their knee baseline):

- conv block: 2 × [3×3 conv (no bias) → instance norm (no affine) → LeakyReLU(0.2) → dropout];
- encoder: a conv block at ``chans``, then ``num_pool`` times 2×2 average pooling + conv block
  doubling the channels (the last one is the bottleneck, ``chans · 2^num_pool`` channels);
- decoder: ``num_pool`` times 2×2 stride-2 transposed conv (no bias) → instance norm → LeakyReLU,
  concatenation with the encoder's skip, conv block halving the channels;
- a final 1×1 conv to one channel (with bias, linear).

``norm="instance"`` uses :class:`keras.layers.GroupNormalization` with one group per channel
(= instance norm), ``norm="none"`` drops it. ``n`` must be divisible by ``2^num_pool``; fastMRI
pads odd sizes instead, here :func:`max_pool_levels` gives the deepest valid ``num_pool``.
"""

from __future__ import annotations

import keras
from keras import layers

NORMS = ("instance", "none")


def max_pool_levels(n: int, limit: int = 4, smallest: int = 2) -> int:
    """The largest ``num_pool`` ≤ ``limit`` with ``n`` divisible by ``2^num_pool`` and the bottom
    grid at least ``smallest`` pixels."""
    levels = 0
    while levels < limit and n % (2**(levels + 1)) == 0 and n // 2**(levels + 1) >= smallest:
        levels += 1
    return levels


def _norm_act(x, norm: str, name: str):
    if norm == "instance":
        x = layers.GroupNormalization(groups=-1, center=False, scale=False, epsilon=1e-5, name=f"{name}_in")(x)
    return layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act")(x)


def _conv_block(x, chans: int, norm: str, dropout: float, name: str):
    for i in (1, 2):
        x = layers.Conv2D(chans, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = _norm_act(x, norm, f"{name}_{i}")
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_drop{i}")(x)
    return x


def build_unet(n: int, in_chans: int = 1, chans: int = 32, num_pool: int = 4, norm: str = "instance", dropout: float = 0.0,
               residual: bool = False, name: str = "unet") -> keras.Model:
    """U-Net ``(B, n, n, in_chans)`` → ``(B, n, n, 1)``; see the module docstring.

    ``residual=True`` (not in fastMRI's baseline) adds the input's magnitude to the output
    (``|x|`` for 2 channels read as real/imaginary, ``x`` for 1) and zero-initialises the last 1×1
    convolution, so the untrained network returns its zero-filled input and training learns only
    the correction: a global skip connection that helps when the training budget is small.

    Raises ``ValueError`` (naming the argument) when ``n`` is not divisible by ``2^num_pool``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (isinstance(chans, int) and chans >= 1):
        raise ValueError(f"chans must be a positive integer, got {chans!r}")
    if not (isinstance(num_pool, int) and num_pool >= 0) or n % (2**num_pool):
        raise ValueError(f"num_pool={num_pool!r}: n = {n} must be divisible by 2^num_pool "
                         f"(deepest valid: {max_pool_levels(n, limit=16, smallest=1)})")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {list(NORMS)}, got {norm!r}")
    if not isinstance(residual, bool):
        raise ValueError(f"residual must be True or False, got {residual!r}")
    if residual and in_chans not in (1, 2):
        raise ValueError(f"residual needs in_chans 1 (magnitude) or 2 (real, imaginary), got {in_chans}")
    if not (0 <= dropout < 1):
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    inputs = keras.Input((n, n, in_chans), name="image")
    skips, x, ch = [], inputs, chans
    x = _conv_block(x, ch, norm, dropout, "down0")
    for level in range(1, num_pool + 1):
        skips.append(x)
        x = layers.AveragePooling2D(2, name=f"pool{level}")(x)
        ch *= 2
        x = _conv_block(x, ch, norm, dropout, f"down{level}")
    for level in range(num_pool, 0, -1):
        ch //= 2
        x = layers.Conv2DTranspose(ch, 2, strides=2, use_bias=False, name=f"up{level}_tconv")(x)
        x = _norm_act(x, norm, f"up{level}_t")
        x = layers.Concatenate(name=f"up{level}_cat")([skips.pop(), x])
        x = _conv_block(x, ch, norm, dropout, f"up{level}")
    if not residual:
        return keras.Model(inputs, layers.Conv2D(1, 1, name="out")(x), name=name)
    correction = layers.Conv2D(1, 1, kernel_initializer="zeros", name="out")(x)
    base = inputs if in_chans == 1 else _Magnitude(name="input_magnitude")(inputs)
    return keras.Model(inputs, layers.Add(name="residual")([base, correction]), name=name)


@keras.saving.register_keras_serializable(package="automap_nb")
class _Magnitude(layers.Layer):
    """``(B, n, n, 2)`` (real, imaginary) → ``(B, n, n, 1)`` magnitude."""

    def call(self, x):
        return keras.ops.sqrt(keras.ops.sum(keras.ops.square(x), axis=-1, keepdims=True))

    def compute_output_shape(self, shape):
        return tuple(shape[:-1]) + (1, )
