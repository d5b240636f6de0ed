"""cnet.images.to_mnist: your own digits, preprocessed as MNIST's were; python -m cnet predict."""
import contextlib
import io
import os
import struct
import zlib

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image", reason="cnet.images needs Pillow (the [images] extra)")

from cnet import images, mnist_loader, network, network2  # noqa: E402
from drawing import centre_of_mass, redraw  # noqa: E402
from test_cli import run  # noqa: E402


def blob(shape=(90, 60), dark_on_light=True):
    """A hand-made digit-like shape: a thick bar and a dot, on a plain background."""
    a = np.zeros(shape, dtype=np.uint8)
    a[10:70, 20:32] = 255
    a[60:75, 32:50] = 255
    return 255 - a if dark_on_light else a


# ------------------------------------------------------------ the round trip
@pytest.fixture(scope="session")
def trained(mnist_dir):
    """A [784, 100, 10] network2 trained 3 epochs on the 50,000 training images, and
    the first 1,000 test pairs."""
    training_data, _, test_data = mnist_loader.load_data_wrapper(mnist_dir)
    net = network2.Network([784, 100, 10], seed=1)
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD(training_data, 3, 10, 0.5, lmbda=5.0)
    return net, test_data[:1000]


def test_round_trip_through_png_files(trained, tmp_path):
    net, test_data = trained
    X = np.hstack([x for x, _ in test_data])
    original = net.predict(X)
    assert np.mean(original == [y for _, y in test_data]) > 0.95   # a trained network
    rng = np.random.default_rng(0)
    redrawn, worst = [], 0.0
    for k, (x, _) in enumerate(test_data):
        path = str(tmp_path / "digit{}.png".format(k))
        redraw(x, rng, dark_on_light=k % 2 == 0).save(path)
        y = images.to_mnist(path)
        worst = max(worst, np.max(np.abs(np.subtract(centre_of_mass(y), 14.0))))
        redrawn.append(y)
    agreement = np.mean(net.predict(np.hstack(redrawn)) == original)
    assert agreement >= 0.98, agreement
    assert worst < 0.5, worst          # the centre of mass at pixel (14, 14), within half a pixel


# ------------------------------------------------------------ the procedure
def test_output_is_what_the_loader_gives():
    x = images.to_mnist(blob())
    assert x.shape == (784, 1) and x.dtype == np.float32
    assert x.min() == 0 and x.max() == np.float32(255 / 256)
    np.testing.assert_array_equal(x * 256, np.round(x * 256))       # multiples of 1/256
    assert np.abs(np.subtract(centre_of_mass(x), 14.0)).max() < 0.05


def test_a_rectangle_becomes_20_pixels_long_keeping_its_aspect():
    a = np.full((300, 200), 255, dtype=np.uint8)
    a[50:200, 40:115] = 0                           # 150 x 75, dark on light
    field = images.to_mnist(a).reshape(28, 28)
    # the strongest value of each row (column), summed: the extent, also when an edge
    # falls between two pixels and is shared by them
    np.testing.assert_allclose(field.max(axis=1).sum(), 20 * 255 / 256, atol=0.1)
    np.testing.assert_allclose(field.max(axis=0).sum(), 10 * 255 / 256, atol=0.1)
    np.testing.assert_allclose(centre_of_mass(field), (14.0, 14.0), atol=0.05)


def test_polarity_place_and_size_do_not_matter():
    reference = images.to_mnist(blob(dark_on_light=False))
    light = images.to_mnist(blob(dark_on_light=True))
    np.testing.assert_allclose(light, reference, atol=1.5 / 256)
    moved = np.zeros((300, 400), dtype=np.uint8)
    moved[150:240, 7:67] = blob(dark_on_light=False)
    np.testing.assert_allclose(images.to_mnist(moved), reference, atol=1.5 / 256)
    twice = np.asarray(Image.fromarray(blob(dark_on_light=False)).resize((120, 180), Image.Resampling.NEAREST))
    np.testing.assert_allclose(images.to_mnist(twice), reference, atol=6 / 256)


def test_grey_background_and_faint_ink_are_levelled():
    a = blob(dark_on_light=False).astype(np.float64)
    faint = (0.55 + 0.3 * a / 255).astype(np.float32)   # grey 0.55 paper, ink at 0.85
    np.testing.assert_allclose(images.to_mnist(faint), images.to_mnist(blob(dark_on_light=False)),
                               atol=1.5 / 256)


def test_inputs_of_every_kind_agree(tmp_path):
    a = blob()
    reference = images.to_mnist(a)
    rgb = np.stack([a, a, a], axis=2)
    path = str(tmp_path / "d.png")
    Image.fromarray(a).save(path)
    same = [images.to_mnist(path), images.to_mnist(Image.fromarray(a)), images.to_mnist(rgb),
            images.to_mnist(a.astype(np.float64) / 255), images.to_mnist(a > 127),
            images.to_mnist(a.astype(np.int64)), images.to_mnist(a[:, :, None])]
    for x in same:
        np.testing.assert_allclose(x, reference, atol=1.5 / 256)


# ------------------------------------------------------------ kinds of files
def test_palette_16_bit_and_jpeg_files(tmp_path):
    a = blob()
    reference = images.to_mnist(a)
    Image.fromarray(a).convert("P").save(str(tmp_path / "p.png"))
    Image.fromarray(a.astype(np.uint16) * 257).save(str(tmp_path / "16.png"))
    Image.fromarray(a).convert("RGB").save(str(tmp_path / "d.jpg"), quality=90)
    assert Image.open(str(tmp_path / "p.png")).mode == "P"
    assert Image.open(str(tmp_path / "16.png")).mode.startswith("I")
    np.testing.assert_allclose(images.to_mnist(str(tmp_path / "p.png")), reference, atol=1.5 / 256)
    np.testing.assert_allclose(images.to_mnist(str(tmp_path / "16.png")), reference, atol=1.5 / 256)
    np.testing.assert_allclose(images.to_mnist(str(tmp_path / "d.jpg")), reference, atol=0.06)


@pytest.mark.parametrize("mode", ["1", "P", "RGB", "RGBA", "LA", "PA", "CMYK", "YCbCr", "I", "F"])
def test_every_pil_mode_gives_the_same_input(mode):
    a = blob()
    converted = Image.fromarray(a).convert(mode)
    assert converted.mode == mode
    np.testing.assert_array_equal(images.to_mnist(converted), images.to_mnist(a))


def test_exif_orientation_is_applied(tmp_path):
    a = blob()
    upright = images.to_mnist(a)
    stored = Image.fromarray(np.rot90(a, k=1))      # stored turned a quarter left ...
    exif = Image.Exif()
    exif[0x0112] = 6                                 # ... and tagged "rotate 90° clockwise to view"
    path = str(tmp_path / "phone.jpg")
    stored.save(path, exif=exif, quality=95)
    np.testing.assert_allclose(images.to_mnist(path), upright, atol=0.06)
    assert not np.allclose(images.to_mnist(np.asarray(stored)), upright, atol=0.06)


@pytest.mark.parametrize("ink", [0, 255])
def test_alpha_is_composited_on_a_contrasting_background(tmp_path, ink):
    # strokes of one colour on a fully transparent background whose hidden colour
    # is the same as the ink's: only the alpha tells them apart
    shape = blob(dark_on_light=False) > 0
    rgba = np.zeros(shape.shape + (4,), dtype=np.uint8)
    rgba[:, :, :3] = ink
    rgba[:, :, 3] = np.where(shape, 255, 0)
    path = str(tmp_path / "a.png")
    Image.fromarray(rgba).save(path)
    reference = images.to_mnist(blob(dark_on_light=False))
    np.testing.assert_allclose(images.to_mnist(path), reference, atol=1.5 / 256)
    la = Image.fromarray(rgba).convert("LA")
    np.testing.assert_allclose(images.to_mnist(la), reference, atol=1.5 / 256)
    np.testing.assert_allclose(images.to_mnist(rgba), reference, atol=1.5 / 256)


def test_an_animation_gives_its_first_frame(tmp_path):
    first, second = blob(), np.full((90, 60), 255, dtype=np.uint8)
    second[40:50, 5:55] = 0
    path = str(tmp_path / "anim.gif")
    Image.fromarray(first).save(path, save_all=True, append_images=[Image.fromarray(second)], duration=100)
    assert Image.open(path).n_frames == 2
    np.testing.assert_allclose(images.to_mnist(path), images.to_mnist(first), atol=1.5 / 256)
    assert not np.allclose(images.to_mnist(second), images.to_mnist(first), atol=0.1)


# ------------------------------------------------------------ refusals
@pytest.mark.parametrize("image", [
    np.full((40, 40), 255, dtype=np.uint8), np.zeros((40, 40)),
    np.full((40, 40), 0.5), (0.5 + 0.05 * np.random.default_rng(0).random((40, 40))),
    np.zeros((40, 40, 4), dtype=np.uint8),
])
def test_an_image_with_no_ink_is_refused(image):
    with pytest.raises(ValueError, match="no ink"):
        images.to_mnist(image)


def png_header_only(path, width, height):
    """A PNG file that claims width x height pixels and holds the first row only."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(bytes(width + 1))) + chunk(b"IEND", b""))


def test_huge_images_are_refused_before_decoding(tmp_path):
    path = str(tmp_path / "huge.png")
    png_header_only(path, 8000, 6000)           # 48 megapixels, above MAX_PIXELS
    with pytest.raises(ValueError, match="huge.png: 48000000 pixels, more than max_pixels=25000000; "
                                         "refused before decoding"):
        images.to_mnist(path)
    png_header_only(path, 30000, 30000)         # beyond Pillow's own guard too
    with pytest.raises(ValueError, match=r"huge.png: more than \d+ pixels, Pillow's guard against "
                                         "decompression bombs; refused before decoding"):
        images.to_mnist(path)
    small = str(tmp_path / "small.png")
    Image.fromarray(blob()).save(small)
    with pytest.raises(ValueError, match="small.png: 5400 pixels, more than max_pixels=5000"):
        images.to_mnist(small, max_pixels=5000)
    assert images.to_mnist(small, max_pixels=5400).shape == (784, 1)
    with pytest.raises(ValueError, match="more than max_pixels=100"):
        images.to_mnist(blob(), max_pixels=100)


def test_files_that_are_not_images(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="notes.png: not an image file that Pillow can read"):
        images.to_mnist(str(text))
    good = tmp_path / "good.png"
    Image.fromarray(blob()).save(str(good))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:120])
    with pytest.raises(ValueError, match="cut.png: the image cannot be decoded"):
        images.to_mnist(str(cut))
    with pytest.raises(FileNotFoundError):
        images.to_mnist(str(tmp_path / "missing.png"))


@pytest.mark.parametrize("image, error, message", [
    (np.zeros((784, 1)), ValueError, "that is a network input, not an image"),
    (np.zeros(784), ValueError, "that is a network input, not an image"),
    (np.zeros((5, 5, 7)), ValueError, "expected (H, W), or (H, W, C)"),
    (np.full((5, 5), 2.0), ValueError, "float values must lie in [0, 1]"),
    (np.full((5, 5), 300), ValueError, "int64 values must lie in 0..255"),
    (np.full((5, 5), "a"), TypeError, "dtype <U1"),
    (3.5, TypeError, "image must be a path, a PIL image or an array"),
])
def test_bad_arrays_are_clear_errors(image, error, message):
    with pytest.raises(error) as info:
        images.to_mnist(image)
    assert message in str(info.value)


def test_write_png_holds_the_input(tmp_path):
    x = images.to_mnist(blob())
    path = str(tmp_path / "x.png")
    images.write_png(x, path)
    seen = np.asarray(Image.open(path))
    assert seen.shape == (28, 28)
    np.testing.assert_array_equal(seen, np.round(x.reshape(28, 28) * 256))


# ------------------------------------------------------------ python -m cnet predict
def test_cli_predict_end_to_end(tmp_path):
    net = network2.Network([784, 30, 10], seed=2)
    net.weights = [w * 4 for w in net.weights]
    saved = str(tmp_path / "net.json")
    net.save(saved)
    paths = []
    for k, (shape, dark) in enumerate([((90, 60), True), ((120, 200), False), ((61, 47), True)]):
        a = np.zeros(shape, dtype=np.uint8)
        a[5:shape[0] - 5:2, k + 3:shape[1] // 2] = 255         # different shapes, different digits
        paths.append(str(tmp_path / "digit{}.png".format(k)))
        Image.fromarray(255 - a if dark else a).save(paths[-1])
    blank = str(tmp_path / "blank.png")
    Image.new("L", (30, 30), 255).save(blank)
    show = str(tmp_path / "seen")
    r = run("predict", saved, paths[0], blank, paths[1], paths[2], "--show-dir", show)
    assert r.returncode == 1                                      # one image failed; the rest ran
    assert r.stderr == "cnet: error: {}: no ink found: nothing differs from the background by 10% " \
                       "of the grey scale or more\n".format(blank)
    lines = r.stdout.splitlines()
    assert len(lines) == 6
    for path, line, saw in zip(paths, lines[0::2], lines[1::2]):
        x = images.to_mnist(path)
        scores = net.predict_proba(x)[:, 0]
        best = np.argsort(-scores, kind="stable")[:3]
        assert line == "{}: {}   scores {}".format(path, net.predict(x)[0], "  ".join(
            "{} {:.3f}".format(j, scores[j]) for j in best))
        shown = os.path.join(show, os.path.basename(path) + ".mnist.png")
        assert saw == "  saw: " + shown
        np.testing.assert_array_equal(np.asarray(Image.open(shown)), np.round(x.reshape(28, 28) * 256))
    r = run("predict", saved, paths[0], "--show")
    assert r.returncode == 0 and os.path.exists(paths[0] + ".mnist.png")
    missing = str(tmp_path / "missing.png")
    r = run("predict", saved, missing, paths[1])
    assert r.returncode == 1 and "missing.png" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout.startswith(paths[1] + ": ")


def test_cli_predict_with_a_chapter_1_network_and_a_wrong_one(tmp_path):
    image = str(tmp_path / "d.png")
    Image.fromarray(blob()).save(image)
    saved = str(tmp_path / "net1.json")
    net = network.Network([784, 20, 10], seed=3)
    net.save(saved)
    r = run("predict", saved, image, "--backend", "numpy")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("{}: {}   scores ".format(image, net.predict(images.to_mnist(image))[0]))
    network2.Network([100, 10]).save(str(tmp_path / "narrow.json"))
    r = run("predict", str(tmp_path / "narrow.json"), image)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "narrow.json: the network takes 100 inputs; an image becomes 784 (28 x 28)" in r.stderr
