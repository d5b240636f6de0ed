"""cnet.plot's conv.py figures: plot_filters and plot_errors, saved as real PNGs and read back."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.image import imread  # noqa: E402

from cnet import chapter6, network3, plot  # noqa: E402


@pytest.fixture(scope="module")
def net():
    np.random.seed(1)
    return network3.Network(chapter6.build(chapter6.layer_specs("dbl_conv")), chapter6.MINI_BATCH_SIZE)


def read_back(fig, path):
    """Save ``fig`` as a PNG and read its pixels: (height, width, RGBA) floats."""
    plot.save(fig, str(path))
    pixels = imread(str(path))
    assert pixels.ndim == 3 and pixels.shape[2] == 4
    assert pixels[..., :3].std() > 0                  # something was drawn
    return pixels


def test_plot_filters_draws_each_filter_of_the_first_input_map(net, tmp_path):
    filters = net.layers[0].w.get_value()
    fig = plot.plot_filters(net, 0, 5, 4)
    pixels = read_back(fig, tmp_path / "layer0.png")
    assert pixels.shape[:2] == (int(4 * 1.2 * 100), int(5 * 1.2 * 100))
    assert len(fig.axes) == 20
    for j, ax in enumerate(fig.axes):
        [image] = ax.images
        np.testing.assert_array_equal(image.get_array(), filters[j][0])
        assert image.get_cmap().name == "binary"
        assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
        spec = ax.get_subplotspec()
        assert (spec.rowspan.start, spec.colspan.start) == (j // 5, j % 5)   # y rows of x
    # the second layer: 40 filters over 20 maps, each drawn on its first map (conv.py's 8 x 5)
    fig = plot.plot_filters(net, 1, 8, 5)
    read_back(fig, tmp_path / "layer1.png")
    second = net.layers[1].w.get_value()
    assert len(fig.axes) == 40 and second.shape == (40, 20, 5, 5)
    for ax, f in zip(fig.axes, second):
        np.testing.assert_array_equal(ax.images[0].get_array(), f[0])


@pytest.mark.parametrize("layer, x, y, message", [
    (2, 5, 4, "layer 2: not a ConvPoolLayer"),
    (7, 5, 4, "layer 7: not a ConvPoolLayer"),
    (0, 4, 4, "a grid of 4 x 4 cannot hold the layer's 20 filters"),
])
def test_plot_filters_refuses_what_it_cannot_draw(net, layer, x, y, message):
    with pytest.raises(ValueError, match=message):
        plot.plot_filters(net, layer, x, y)


def test_plot_errors_draws_the_first_40_with_their_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((100, 784)).astype(np.float32)
    y = rng.integers(0, 10, 100)
    locations = list(range(3, 93, 2))                     # 45 errors: the first 40 are drawn
    predictions = [(int(y[i]) + 1) % 10 for i in locations]
    fig = plot.plot_errors(locations, predictions, data=(x, y))
    pixels = read_back(fig, tmp_path / "errors.png")
    assert pixels.shape[:2] == (550, 800)
    assert len(fig.axes) == 40
    for j, ax in enumerate(fig.axes):
        i = locations[j]
        [image] = ax.images
        np.testing.assert_array_equal(image.get_array(), x[i].reshape(28, 28))
        assert image.get_cmap().name == "binary"
        spec = ax.get_subplotspec()
        assert (spec.rowspan.start, spec.colspan.start) == (j // 8, j % 8)
        label, predicted = ax.texts
        assert (label.get_position(), label.get_text()) == ((24, 5), str(y[i]))
        assert (predicted.get_position(), predicted.get_text()) == ((24, 24), str(predictions[j]))
        assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []


def test_plot_errors_of_an_ensemble_on_shared_data(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.random((30, 784)).astype(np.float32)
    data = (network3.Shared(x), network3.Shared(rng.integers(0, 10, 30).astype(np.int32)))
    np.random.seed(0)
    nets = [network3.Network(chapter6.build(chapter6.layer_specs("shallow")), 10) for _ in range(3)]
    locations, predictions = network3.ensemble(nets, data)
    assert locations                                       # untrained nets get some wrong
    fig = plot.plot_errors(locations, predictions, data=data)
    read_back(fig, tmp_path / "ensemble_errors.png")
    assert len(fig.axes) == min(40, len(locations))
    assert [int(ax.texts[1].get_text()) for ax in fig.axes] == predictions[:40]
    # without predictions: the true digit alone
    fig = plot.plot_errors(locations[:5], data=data)
    assert [len(ax.texts) for ax in fig.axes] == [1] * 5


def test_plot_errors_refuses_locations_outside_the_data():
    data = (np.zeros((10, 784)), np.zeros(10, int))
    with pytest.raises(ValueError, match="error location 10 is outside the 10 test images"):
        plot.plot_errors([1, 10], data=data)
    with pytest.raises(ValueError, match="1 erroneous predictions for 2 error locations"):
        plot.plot_errors([1, 2], [3], data=data)
