"""Your own digits as network inputs: MNIST's preprocessing, for any image.

``to_mnist(image)`` turns a picture of one digit -- a file, a PIL image or an
array -- into the (784, 1) float32 column that ``net.predict`` and
``net.feedforward`` take, the way MNIST's own digits were made:

1. upright (a file's EXIF orientation, as a phone or scanner writes it, is
   applied); greyscale (ITU-R 601 luma), an alpha channel composited over the colour
   that contrasts with the visible pixels (white under dark ink, black under
   light ink);
2. inverted when the ink is darker than the background, so that ink is bright
   on dark: the background is the median of the border pixels, and the ink
   the extreme (darkest or lightest) grey farther from it;
3. levels: that background becomes 0 and the strongest ink 1;
4. cropped to the bounding box of the ink (pixels at least ``INK``, half,
   as strong as the strongest);
5. scaled, keeping the aspect ratio, so that the longer side is 20 pixels,
   with anti-aliasing (Pillow's ``BILINEAR``: a triangle filter as wide as
   the scale, so every source pixel counts);
6. placed in a 28 x 28 field with its centre of mass at pixel (14, 14) (row,
   column from 0), where MNIST's digits have theirs, by a sub-pixel shift: it
   lands within a few hundredths of a pixel.  As in MNIST (where 1.3% of the
   digits touch the edge), a digit whose mass sits far from the middle of its
   box, such as a 7 with a heavy bar, may lose a sliver of ink at the edge;
7. values as the loader gives them: float32 multiples of 1/256, the strongest
   ink 255/256.

It needs Pillow (``pip install Pillow``).  What it cannot do: find a
digit in a photograph of a scene, or remove shadows or a textured background
-- the image should hold one digit on a plain background (a scan, a drawing, a
screenshot).  A digit drawn with a thin pen on a big canvas comes out thin
and faint; MNIST's strokes are 2 to 3 pixels wide in the 28 x 28 field.
"""
import math
import os
import warnings

import numpy as np

try:
    from PIL import Image, ImageOps, UnidentifiedImageError
except ImportError as exc:  # pragma: no cover - the [images] extra is not installed
    raise ImportError("cnet.images needs Pillow: pip install Pillow "
                      "(or, in cnet's source tree, pip install '.[images]')") from exc

__all__ = ["to_mnist", "write_png", "MAX_PIXELS", "INK"]

#: Images with more pixels than this (25 megapixels: a 6000 x 4000 photograph
#: fits) are refused before they are decoded: a guard against decompression
#: bombs, and against running out of memory, since an image takes about 14
#: bytes a pixel while it is processed (measured: 0.17 GB for a 12-megapixel
#: JPEG).  Pass ``max_pixels=`` to ``to_mnist`` to allow larger ones.
MAX_PIXELS = 25_000_000

#: A pixel is ink, for the bounding box, when it is at least this strong on the
#: scale from background (0) to the strongest ink (1): half, where the edge of
#: an anti-aliased stroke is (MNIST's source digits were black and white).
#: Fainter pixels inside the box are kept; fainter ones outside it (blur,
#: noise, a faint pencil stroke) are cropped away.
INK = 0.5

#: An image whose strongest ink differs from its background by less than this
#: (on the scale 0 = black, 1 = white) is taken to hold no digit.
MIN_CONTRAST = 0.1

SIDE, BOX, CENTRE = 28, 20, 14.0
_WORK = 8 * BOX          # longer side at which large crops are resampled first
_FILTER = Image.Resampling.BILINEAR   # a triangle widened to the scale: continuous in a shift


def to_mnist(image, max_pixels=MAX_PIXELS):
    """Return ``image`` as the network's input: a (784, 1) float32 column in [0, 1),
    bright ink on black, preprocessed as MNIST's digits were (see the module).

    ``image`` is a path to an image file; a PIL image (its current frame); or an
    array: (H, W) grey, (H, W, 2) grey and alpha, (H, W, 3) RGB or (H, W, 4)
    RGBA, of uint8 (0..255), uint16 (0..65535), other integers (0..255), bool,
    or floats in [0, 1].  A file with several frames (an animated GIF or PNG)
    gives its first; palette, 16-bit, greyscale-with-alpha and RGBA images are
    converted; an EXIF orientation is applied.  An image with no ink (no contrast), one that is not an image,
    or one with more than ``max_pixels`` pixels raises ValueError naming it.
    """
    grey, name = _grey(image, max_pixels)
    ink = _levels(grey, name)
    del grey
    inked = ink >= INK
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    del inked
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return _fit(crop).reshape(SIDE * SIDE, 1)


def write_png(x, path):
    """Write a network input ``x`` (784 values in [0, 1]) to ``path`` as a 28 x 28
    greyscale PNG, as the network sees it: bright ink on black."""
    x = np.asarray(x, dtype=np.float64)
    if x.size != SIDE * SIDE:
        raise ValueError("x has {} values; expected {} (28 x 28)".format(x.size, SIDE * SIDE))
    pixels = np.clip(np.round(x.reshape(SIDE, SIDE) * 256), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")  # uint8: mode "L"


# ------------------------------------------------------------ reading
def _grey(image, max_pixels):
    """``(grey, name)``: the image as an (H, W) float32 array, 0 black .. 1 white,
    any alpha composited; and how to name it in messages."""
    if isinstance(image, (str, bytes, os.PathLike)):
        path = os.fsdecode(image)
        try:
            with warnings.catch_warnings():
                # PIL warns above its own limit; ours, checked below, decides
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(path)
        except UnidentifiedImageError:
            raise ValueError("{}: not an image file that Pillow can read".format(path)) from None
        except Image.DecompressionBombError:
            raise ValueError("{}: more than {} pixels, Pillow's guard against decompression bombs; "
                             "refused before decoding".format(path, 2 * Image.MAX_IMAGE_PIXELS)) from None
        with im:
            _check_pixels(path, im.size[0] * im.size[1], max_pixels, "; refused before decoding")
            try:
                im.seek(0)      # the first frame of an animation
                im.load()
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise ValueError("{}: the image cannot be decoded ({})".format(path, exc)) from None
            return _pil_grey(ImageOps.exif_transpose(im), path), path
    if isinstance(image, Image.Image):
        _check_pixels("image", image.size[0] * image.size[1], max_pixels)
        return _pil_grey(ImageOps.exif_transpose(image), "image"), "image"
    if isinstance(image, np.ndarray) or isinstance(image, (list, tuple)):
        return _array_grey(np.asarray(image), max_pixels), "image"
    raise TypeError("image must be a path, a PIL image or an array, got {}".format(type(image).__name__))


def _check_pixels(name, pixels, max_pixels, when=""):
    if pixels > max_pixels:
        raise ValueError("{}: {} pixels, more than max_pixels={}{}".format(name, pixels, max_pixels, when))
    if pixels == 0:
        raise ValueError("{}: an empty image (no pixels)".format(name))


def _pil_grey(im, name):
    mode = im.mode
    try:
        if mode.startswith("I;16") or mode in ("I", "F"):
            values = np.array(im, dtype=np.float32)
            # 16-bit greyscale 0..65535; "I" or "F" holding 8-bit values (as Pillow's
            # convert gives them) 0..255; "F" up to 1 is taken as 0..1
            top = values.max(initial=0)
            full = 1.0 if mode == "F" and top <= 1 else 255.0 if top <= 255 else 65535.0
            values /= np.float32(full)
            return _unit("{} (mode {})".format(name, mode), values)
        if "A" in mode or "a" in mode or "transparency" in im.info:
            rgba = im.convert("RGBA")
            grey = _bytes_to_unit(rgba.convert("L"))
            return _composite(grey, _bytes_to_unit(rgba.getchannel("A")), name)
        return _bytes_to_unit(im.convert("L"))
    except ValueError as exc:
        if "conversion" not in str(exc):
            raise
        raise ValueError("{}: Pillow cannot convert mode {} images to grey ({})".format(
            name, mode, exc)) from None


def _bytes_to_unit(im):
    """An 8-bit one-band PIL image as float32 values in [0, 1] (a new array)."""
    values = np.array(im, dtype=np.float32)
    values /= np.float32(255)
    return values


def _array_grey(a, max_pixels):
    if a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1 and a.shape[0] == SIDE * SIDE):
        raise ValueError("image has shape {}: that is a network input, not an image; pass "
                         "x.reshape(28, 28) to treat it as one".format(a.shape))
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 2, 3, 4)):
        raise ValueError("image has shape {}; expected (H, W), or (H, W, C) with C = 1 (grey), "
                         "2 (grey, alpha), 3 (RGB) or 4 (RGBA)".format(a.shape))
    _check_pixels("image", a.shape[0] * a.shape[1], max_pixels)
    if a.dtype == bool:
        a = a.astype(np.float32)
    elif a.dtype.kind in "iu":
        full = 65535 if a.dtype == np.uint16 else 255
        if a.size and (a.min() < 0 or a.max() > full):
            raise ValueError("image: {} values must lie in 0..{}, found {}..{}".format(
                a.dtype, full, a.min(), a.max()))
        a = a.astype(np.float32) / np.float32(full)
    elif a.dtype.kind == "f":
        a = _unit("image", a.astype(np.float32))
    else:
        raise TypeError("image has dtype {}; expected integers, bool or floats".format(a.dtype))
    if a.ndim == 2:
        return a
    channels = a.shape[2]
    if channels in (1, 2):
        grey = a[:, :, 0]
    else:  # ITU-R 601-2 luma, as Pillow's convert("L")
        grey = a[:, :, 0] * 0.299 + a[:, :, 1] * 0.587 + a[:, :, 2] * 0.114
    if channels in (2, 4):
        return _composite(grey, a[:, :, -1], "image")
    return grey


def _unit(name, values):
    """``values`` (float32), checked to lie in [0, 1]."""
    if not np.isfinite(values).all() or values.min(initial=0) < 0 or values.max(initial=0) > 1:
        raise ValueError("{}: float values must lie in [0, 1]".format(name))
    return values


def _composite(grey, alpha, name):
    """grey over a background: white when the visible pixels are mostly dark, black
    when they are mostly light (alpha-weighted mean), so that ink keeps contrasting."""
    opacity = float(alpha.sum(dtype=np.float64))
    if opacity == 0:
        raise ValueError("{}: no ink (the image is fully transparent)".format(name))
    visible = float(np.vdot(grey.ravel(), alpha.ravel())) / opacity
    background = np.float32(1.0 if visible < 0.5 else 0.0)
    # a·g + (1 − a)·background = a·(g − background) + background, in grey's place
    grey -= background
    grey *= alpha
    grey += background
    return grey


# ------------------------------------------------------------ MNIST's steps
def _levels(grey, name):
    """Ink strength, 0 (the background) .. 1 (the strongest ink): ``grey`` inverted
    when the ink is dark (its darkest grey lies farther below the background, the
    border's median, than its lightest above), less the background, scaled."""
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    background = float(np.median(border))
    darkest, lightest = float(grey.min()), float(grey.max())
    if background - darkest > lightest - background:
        background, lightest = 1 - background, 1 - darkest
        grey = np.subtract(np.float32(1), grey, out=grey if grey.flags.writeable else None)
    contrast = lightest - background
    if contrast < MIN_CONTRAST:
        raise ValueError("{}: no ink found: nothing differs from the background by {:.0%} of the "
                         "grey scale or more".format(name, MIN_CONTRAST))
    # (grey − background) / contrast, in place: grey is this module's own copy
    ink = np.subtract(grey, np.float32(background), out=grey if grey.flags.writeable else None)
    ink /= np.float32(contrast)
    return np.clip(ink, 0, 1, out=ink)


def _fit(crop):
    """The 28 x 28 field holding ``crop`` scaled so its longer side is 20 pixels, with
    its centre of mass at (14, 14); float32 multiples of 1/256, strongest 255/256."""
    h, w = crop.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.float32)
    square[:h, :w] = crop
    work = Image.fromarray(square)  # float32: mode "F"
    if side > _WORK:   # resample a big crop once to 8x the target size, anti-aliased
        work = work.resize((_WORK, _WORK), _FILTER)
        side = _WORK
    scale = side / BOX      # work pixels per field pixel
    pad = int(math.ceil(SIDE * scale)) + 1
    canvas = Image.new("F", (side + 2 * pad, side + 2 * pad), 0.0)
    canvas.paste(work, (pad, pad))
    # the field's pixel (i, j) covers work's [y0 + i·s, y0 + (i+1)·s) × [x0 + j·s, …):
    # start with the work image's centre of mass at the field's pixel (14, 14)
    cy, cx = _centre_of_mass(np.asarray(work))
    y0 = _clamp(cy + 0.5 - (CENTRE + 0.5) * scale, side, pad, scale)
    x0 = _clamp(cx + 0.5 - (CENTRE + 0.5) * scale, side, pad, scale)
    for _ in range(4):
        box = (x0 + pad, y0 + pad, x0 + pad + SIDE * scale, y0 + pad + SIDE * scale)
        field = np.asarray(canvas.resize((SIDE, SIDE), _FILTER, box=box))
        fy, fx = _centre_of_mass(field)
        # resampling moves the centre of mass by a little: correct for it
        y1 = _clamp(y0 + (fy - CENTRE) * scale, side, pad, scale)
        x1 = _clamp(x0 + (fx - CENTRE) * scale, side, pad, scale)
        if abs(y1 - y0) < 0.01 * scale and abs(x1 - x0) < 0.01 * scale:
            break
        y0, x0 = y1, x1
    field = np.clip(field, 0, None)
    return (np.round(field * (255 / field.max())) / 256).astype(np.float32)


def _clamp(start, side, pad, scale):
    """``start`` limited so that the field, SIDE·scale long, stays on the canvas
    (the work image, ``side`` long, with ``pad`` on either side)."""
    return min(side + pad - SIDE * scale, max(-pad, start))


def _centre_of_mass(a):
    """(row, column) of the centre of mass of the 2-D array ``a``, pixel centres at
    whole numbers."""
    a = np.asarray(a, dtype=np.float64)
    total = a.sum()
    return (float(a.sum(axis=1) @ np.arange(a.shape[0])) / total,
            float(a.sum(axis=0) @ np.arange(a.shape[1])) / total)
