"""Digits drawn as a user would save them, for tests/test_images.py and
benchmarks/own_digits.py (needs Pillow)."""
import numpy as np
from PIL import Image


def centre_of_mass(x):
    """(row, column) of the centre of mass of a 784-pixel input's 28 × 28 image."""
    a = np.asarray(x, dtype=np.float64).reshape(28, 28)
    return (a.sum(axis=1) @ np.arange(28) / a.sum(), a.sum(axis=0) @ np.arange(28) / a.sum())


def redraw(x, rng, dark_on_light, scale=3, canvas=(200, 160)):
    """An MNIST input as a user would save it: its 8-bit pixels scaled up ``scale``
    times (bicubic), pasted off-centre on a bigger canvas, black on white or white
    on black."""
    pixels = np.round(np.asarray(x).reshape(28, 28) * 256).clip(0, 255).astype(np.uint8)
    side = 28 * scale
    big = Image.fromarray(pixels).resize((side, side), Image.Resampling.BICUBIC)
    im = Image.new("L", canvas, 0)
    im.paste(big, (int(rng.integers(0, canvas[0] - side)), int(rng.integers(0, canvas[1] - side))))
    if dark_on_light:
        im = Image.fromarray(255 - np.asarray(im))
    return im
