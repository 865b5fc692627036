"""Array transforms shared by every chapter: centred FFTs, cropping, downsampling, normalisation.

Conventions (as in fastMRI):

- Arrays are numpy; the two image axes are always the last two, ``(..., H, W)``.
- k-space is *centred*: the DC coefficient sits at index ``(H // 2, W // 2)``.
- FFTs are orthonormal (``norm="ortho"``), so ``ifft2c(fft2c(x)) == x`` and Parseval holds:
  ``sum |x|^2 == sum |fft2c(x)|^2``.
- A centre crop of size ``s`` from length ``L`` keeps indices ``[L//2 - s//2, L//2 - s//2 + s)``,
  so the centre index ``L // 2`` maps to ``s // 2`` (consistent with the FFT centring).
"""

from __future__ import annotations

import numpy as np

AXES = (-2, -1)


def fft2c(image: np.ndarray) -> np.ndarray:
    """Centred orthonormal 2-D FFT over the last two axes: image ``(..., H, W)`` → k-space."""
    shifted = np.fft.ifftshift(image, axes=AXES)
    return np.fft.fftshift(np.fft.fft2(shifted, axes=AXES, norm="ortho"), axes=AXES)


def ifft2c(kspace: np.ndarray) -> np.ndarray:
    """Centred orthonormal inverse 2-D FFT over the last two axes: k-space ``(..., H, W)`` → image."""
    shifted = np.fft.ifftshift(kspace, axes=AXES)
    return np.fft.fftshift(np.fft.ifft2(shifted, axes=AXES, norm="ortho"), axes=AXES)


def center_crop(array: np.ndarray, shape: tuple[int, int] | int) -> np.ndarray:
    """Crop the last two axes of ``array`` to ``shape`` around the centre index ``L // 2``.

    ``shape`` is ``(h, w)`` or one int for a square crop. Raises ``ValueError`` if the crop is
    larger than the array.
    """
    h, w = (shape, shape) if isinstance(shape, (int, np.integer)) else shape
    big_h, big_w = array.shape[-2:]
    if not (0 < h <= big_h and 0 < w <= big_w):
        raise ValueError(f"cannot centre-crop {(big_h, big_w)} to {(h, w)}")
    top = big_h // 2 - h // 2
    left = big_w // 2 - w // 2
    return array[..., top:top + h, left:left + w]


def center_pad(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Zero-pad the last two axes to ``shape`` (the inverse of :func:`center_crop`)."""
    h, w = array.shape[-2:]
    big_h, big_w = shape
    if h > big_h or w > big_w:
        raise ValueError(f"cannot centre-pad {(h, w)} to {(big_h, big_w)}")
    out = np.zeros(array.shape[:-2] + (big_h, big_w), dtype=array.dtype)
    top = big_h // 2 - h // 2
    left = big_w // 2 - w // 2
    out[..., top:top + h, left:left + w] = array
    return out


def downsample(image: np.ndarray, size: int) -> np.ndarray:
    """Anti-aliased downsampling of a complex (or real) image ``(..., H, W)`` to ``(..., size, size)``.

    Fourier cropping: keep the central ``size × size`` block of the centred k-space, the ideal
    low-pass filter, then transform back. The result is scaled by ``size / sqrt(H·W)`` so that
    a constant image keeps its value. Any ``size`` from 1 to ``min(H, W)`` is allowed, odd too.
    The output is complex64 (the phase is kept; take ``abs`` for a magnitude image).
    """
    h, w = image.shape[-2:]
    if not (isinstance(size, (int, np.integer)) and 0 < size <= min(h, w)):
        raise ValueError(f"size must be an integer in [1, {min(h, w)}], got {size!r}")
    kspace = center_crop(fft2c(image), (size, size))
    scale = size / np.sqrt(h * w)
    return (ifft2c(kspace) * scale).astype(np.complex64)


def normalize(images: np.ndarray, scale: float | None = None) -> tuple[np.ndarray, float]:
    """Scale complex or real images to magnitudes in ``[0, 1]``.

    The whole stack shares one factor (by default ``max |images|``), so that relative intensity
    between the slices of a volume is kept and edge slices stay dark. Returns ``(scaled, scale)``
    where ``scaled = images / scale``. Raises ``ValueError`` for an all-zero or non-finite stack.
    """
    if scale is None:
        scale = float(np.max(np.abs(images)))
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"cannot normalise: scale is {scale!r}")
    return (images / scale).astype(images.dtype), scale


def complex_to_channels(array: np.ndarray) -> np.ndarray:
    """Complex ``(..., H, W)`` → float32 ``(..., H, W, 2)`` with channels (real, imaginary)."""
    return np.stack([array.real, array.imag], axis=-1).astype(np.float32)


def channels_to_complex(array: np.ndarray) -> np.ndarray:
    """Float ``(..., H, W, 2)`` (real, imaginary) → complex64 ``(..., H, W)``."""
    if array.shape[-1] != 2:
        raise ValueError(f"expected a last axis of 2 (real, imaginary), got shape {array.shape}")
    return (array[..., 0] + 1j * array[..., 1]).astype(np.complex64)


def image_to_example(image: np.ndarray, kspace_scale: float, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One training example from a normalised complex image ``(..., n, n)``.

    Returns ``(inputs, targets)``: ``inputs`` float32 ``(..., n, n, 2)`` is the centred k-space of
    the image times ``kspace_scale`` as (real, imaginary) channels, multiplied by ``mask`` (a 0/1
    array broadcastable to ``(..., n, n)``, e.g. a column mask of shape ``(n,)`` or ``(1, n)``)
    when one is given; ``targets`` float32 ``(..., n, n, 1)`` is ``|image|`` (never masked).
    """
    kspace = fft2c(image) * kspace_scale
    if mask is not None:
        kspace = kspace * mask
    inputs = complex_to_channels(kspace)
    targets = np.abs(image).astype(np.float32)[..., None]
    return inputs, targets


def inputs_to_image(inputs: np.ndarray, kspace_scale: float) -> np.ndarray:
    """Inverse of the input encoding: ``(..., n, n, 2)`` channels → complex image ``(..., n, n)``.

    On fully sampled inputs this is the exact inverse FFT reconstruction; on masked inputs it is
    the zero-filled reconstruction.
    """
    return ifft2c(channels_to_complex(inputs) / kspace_scale)


def align_dc_phase(inputs: np.ndarray) -> np.ndarray:
    """k-space inputs ``(..., n, n, 2)`` times ``e^(-iφ)``, φ the phase of each one's DC coefficient
    (index ``[n // 2, n // 2]`` of the centred grid); float32, same shape.

    The DC coefficient becomes real and ≥ 0 (an all-zero DC is left as it is) and the magnitude
    image does not change. NumPy twin of :class:`automap_nb.models.AlignDCPhase`.
    """
    kspace = channels_to_complex(inputs)
    h, w = kspace.shape[-2:]
    dc = kspace[..., h // 2, w // 2]
    unit = np.ones_like(dc)
    turned = dc != 0
    unit[turned] = np.conj(dc[turned]) / np.abs(dc[turned])
    return complex_to_channels(kspace * unit[..., None, None])


def real_energy_share(inputs: np.ndarray) -> float:
    """Share of the image energy in the real part, ``Σ Re(x)² / Σ |x|²`` over all slices, where
    ``x = ifft2c`` of the k-space inputs ``(..., n, n, 2)`` (any k-space scale). 1 for real images;
    about 0.5 for images whose global phase is random."""
    image = ifft2c(channels_to_complex(inputs))
    return float(np.sum(image.real.astype(np.float64)**2) / np.sum(np.abs(image).astype(np.float64)**2))
