import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from minuet.visualization import corner_plot, plot_cutouts, rgb_composite


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_rgb_maps_z_to_red_and_g_to_blue():
    flux = np.zeros((3, 4, 4))
    flux[2] = 1.0  # z only
    rgb = rgb_composite(flux)
    assert rgb.dtype == np.uint8
    assert rgb[..., 0].min() > 0
    assert rgb[..., 2].max() == 0
    flux = np.zeros((3, 4, 4))
    flux[0] = 1.0  # g only
    rgb = rgb_composite(flux)
    assert rgb[..., 2].min() > 0
    assert rgb[..., 0].max() == 0


def test_rgb_batch_and_nan():
    flux = np.ones((2, 3, 5, 5))
    flux[0, 0, 0, 0] = np.nan
    rgb = rgb_composite(flux)
    assert rgb.shape == (2, 5, 5, 3)


@pytest.mark.parametrize("shape", [(2, 5, 5), (4, 5), (1, 4, 5, 5)])
def test_rgb_rejects_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"g, r, z flux of shape \(3, H, W\)"):
        rgb_composite(np.zeros(shape))


def test_plot_cutouts_titles_and_rows():
    fig = plot_cutouts(np.zeros((5, 3, 8, 8)), titles=list("abcde"), rows=["in", "out"],
                       ncols=3)
    assert len(fig.axes) == 5
    assert fig.axes[0].get_title() == "a"
    assert fig.axes[0].get_ylabel() == "in"


def test_corner_plot_marks_truth():
    rng = np.random.default_rng(1)
    fig = corner_plot(rng.normal(size=(2000, 2)), labels=["a", "b"], truths=[0.0, 1.0])
    axes = np.asarray(fig.axes).reshape(2, 2)
    assert axes[1, 0].get_xlabel() == "a"
    assert axes[1, 0].get_ylabel() == "b"
    assert not axes[0, 1].axison
    # the truth lines are drawn
    assert any(np.allclose(line.get_xdata(), 0.0) for line in axes[0, 0].get_lines())


def test_corner_plot_colours_points_by_a_value():
    rng = np.random.default_rng(2)
    samples = rng.normal(size=(200, 3))
    values = samples[:, 0] * 2.0
    fig = corner_plot(samples, labels=["a", "b", "c"], color_by=values,
                      color_label="twice a", contours=False, vmin=-1.0)
    axes = np.asarray(fig.axes[:9]).reshape(3, 3)
    points = axes[2, 0].collections
    assert len(points) == 1  # the points only: no contour set
    np.testing.assert_allclose(points[0].get_array(), values)
    assert points[0].get_clim() == (-1.0, values.max())
    colorbars = [ax for ax in fig.axes[9:] if ax.get_ylabel() == "twice a"]
    assert len(colorbars) == 1


def test_corner_plot_contours_are_optional():
    rng = np.random.default_rng(3)
    samples = rng.normal(size=(5000, 2))
    with_contours = corner_plot(samples)
    without = corner_plot(samples, contours=False)
    assert len(np.asarray(with_contours.axes).reshape(2, 2)[1, 0].collections) > 0
    assert len(np.asarray(without.axes).reshape(2, 2)[1, 0].collections) == 0


@pytest.mark.parametrize(("values", "match"), [
    (np.zeros(9), r"one value per sample, shape \(10,\); got shape \(9,\)"),
    (np.full(10, np.nan), "no finite value"),
])
def test_corner_plot_rejects_bad_color_by(values, match):
    with pytest.raises(ValueError, match=match):
        corner_plot(np.zeros((10, 2)), color_by=values)


def test_corner_plot_rejects_1d():
    with pytest.raises(ValueError, match=r"samples of shape \(S, D\)"):
        corner_plot(np.zeros(10))


def _rendered_rgba(fig, ax, x, y):
    """RGBA of the rendered figure at data pixel (x, y) of ``ax``."""
    fig.canvas.draw()
    buffer = np.asarray(fig.canvas.buffer_rgba())
    col, row = ax.transData.transform((x, y))
    return buffer[buffer.shape[0] - 1 - int(row), int(col)]


@pytest.mark.parametrize("how", ["nan", "mask", "band_mask", "masked_array"])
def test_plot_cutouts_draws_masked_pixels_grey(how):
    flux = np.zeros((1, 3, 8, 8))  # black sky everywhere
    flux[0, :, 4:, 4:] = 1.0  # a bright corner
    mask = None
    if how == "nan":
        flux[0, 1, 1, 1] = np.nan
    elif how == "mask":
        mask = np.zeros((1, 8, 8), dtype=bool)
        mask[0, 1, 1] = True
    elif how == "band_mask":
        mask = np.zeros((1, 3, 8, 8), dtype=bool)
        mask[0, 2, 1, 1] = True
    else:
        flux = np.ma.masked_array(flux, mask=np.zeros_like(flux, dtype=bool))
        flux.mask[0, 0, 1, 1] = True
    fig = plot_cutouts(flux, mask=mask, ncols=1, panel_size=2)
    ax = fig.axes[0]
    grey = _rendered_rgba(fig, ax, 1, 1)  # origin="lower": data (x=1, y=1)
    np.testing.assert_allclose(grey[:3], 128, atol=2)
    assert grey[3] == 255
    # an unmasked sky pixel stays black, the bright corner stays bright
    np.testing.assert_array_equal(_rendered_rgba(fig, ax, 2, 2)[:3], 0)
    assert _rendered_rgba(fig, ax, 6, 6)[:3].max() > 200


def test_plot_cutouts_masked_colour_and_single_cube():
    flux = np.zeros((3, 8, 8))
    mask = np.zeros((8, 8), dtype=bool)
    mask[3, 5] = True
    fig = plot_cutouts(flux, mask=mask, masked_color="red")
    rgba = _rendered_rgba(fig, fig.axes[0], 5, 3)
    np.testing.assert_array_equal(rgba, [255, 0, 0, 255])


def test_plot_cutouts_rejects_mask_of_other_shape():
    with pytest.raises(ValueError, match="mask of shape"):
        plot_cutouts(np.zeros((2, 3, 8, 8)), mask=np.zeros((2, 4, 4), dtype=bool))
