"""The figure functions of mmdvae.plotting, on tiny inputs with the Agg backend."""

import io
import json

import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
import pytest
import scipy.stats
from tiny import IMAGE_SHAPE, tiny_model

import mmdvae
from mmdvae import plotting


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(size=(12,) + IMAGE_SHAPE).astype("float32")


def shown_canvas(figure, index=0):
    """The array an image figure displays (its first axes' image)."""
    return np.asarray(figure.axes[index].images[0].get_array())


def test_tile_images_places_each_image_in_its_cell():
    images = np.arange(7 * 4 * 5, dtype=np.float32).reshape(7, 4, 5, 1) / 140.0
    canvas = plotting.tile_images(images, num_columns=3)
    assert canvas.shape == (3 * 4, 3 * 5, 1)
    for index in range(7):
        row, column = divmod(index, 3)
        np.testing.assert_array_equal(
            canvas[row * 4 : row * 4 + 4, column * 5 : column * 5 + 5], images[index])
    np.testing.assert_array_equal(canvas[8:, 5:], 1.0)  # the two empty cells are white


def test_image_grid_renders_a_picture_that_is_not_constant(images):
    figure = plotting.image_grid(images, num_columns=4, title="tiny")
    np.testing.assert_array_equal(shown_canvas(figure), plotting.tile_images(images, 4)[..., 0])
    pixels = plotting.figure_to_array(figure)
    assert pixels.ndim == 3 and pixels.shape[2] == 4 and pixels[..., :3].std() > 10


def test_sample_grid_decodes_the_prior_draws_of_its_seed():
    model = tiny_model(mmdvae.MMDVAE, latent_dim=2)
    figure = plotting.sample_grid(model, num_samples=6, num_columns=3, seed=5)
    codes = model.prior_samples(6, seed=np.array([5, 0]))
    expected = plotting.tile_images(model.decode(codes).numpy(), 3)[..., 0]
    np.testing.assert_allclose(shown_canvas(figure), expected, atol=1e-6)
    assert shown_canvas(figure).std() > 0
    with pytest.raises(ValueError, match=r"shape \(n, 2\).*received shape \(4, 3\)"):
        plotting.sample_grid(model, codes=np.zeros((4, 3)))


def test_reconstruction_grid_puts_originals_above_reconstructions(images):
    reconstructions = 1.0 - images
    figure = plotting.reconstruction_grid(images[:5], reconstructions[:5], num_columns=3)
    canvas = shown_canvas(figure)
    assert canvas.shape == (4 * 8, 3 * 8)  # bands of 3 pairs: 2 bands, 2 rows each
    np.testing.assert_array_equal(canvas[0:8, 8:16], images[1, ..., 0])
    np.testing.assert_array_equal(canvas[8:16, 8:16], reconstructions[1, ..., 0])
    np.testing.assert_array_equal(canvas[16:24, 0:8], images[3, ..., 0])
    np.testing.assert_array_equal(canvas[24:32, 8:16], reconstructions[4, ..., 0])
    with pytest.raises(ValueError, match="same shape"):
        plotting.reconstruction_grid(images[:5], reconstructions[:4])


def test_latent_scatter_without_labels_has_one_colour_and_no_legend():
    codes = np.random.default_rng(0).normal(size=(50, 2))
    figure = plotting.latent_scatter(codes, None)
    (axes,) = figure.axes
    assert axes.get_legend() is None and len(axes.collections) == 1
    np.testing.assert_allclose(axes.collections[0].get_offsets(), codes)
    with pytest.raises(ValueError, match=r"shape \(5,\) to match"):
        plotting.latent_scatter(np.zeros((5, 2)), np.zeros(4))


def test_latent_scatter_draws_2d_codes_with_prior_contours_and_a_legend():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(300, 2))
    labels = rng.integers(0, 3, size=300)
    model = tiny_model(mmdvae.MMDVAE, latent_dim=2)
    figure = plotting.latent_scatter(codes, labels, prior=model.prior,
                                     class_names=["a", "b", "c"])
    axes = figure.axes[0]
    assert axes.get_xlabel() == "z[0]"
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["a", "b", "c"]
    points = [collection for collection in axes.collections if hasattr(collection, "get_offsets")
              and len(collection.get_offsets()) and collection.get_label() in "abc"]
    np.testing.assert_allclose(points[1].get_offsets(), codes[labels == 1])
    # The axes hold the prior's 99% region (radius sqrt(-2 log 0.01) = 3.03).
    assert axes.get_xlim()[0] < -2.5 and axes.get_xlim()[1] > 2.5
    assert any(type(c).__name__ == "QuadContourSet" for c in axes.collections)


def test_latent_scatter_projects_long_codes_on_principal_components():
    rng = np.random.default_rng(2)
    codes = rng.normal(size=(400, 5)) * np.array([5.0, 0.2, 2.0, 0.1, 0.1])
    labels = np.zeros(400, dtype=int)
    figure = plotting.latent_scatter(codes, labels)
    axes = figure.axes[0]
    # float64 reference: eigen-decomposition of the covariance.
    centred = codes - codes.mean(0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(eigenvalues)[::-1]
    reference = centred @ eigenvectors[:, order[:2]]
    shown = axes.collections[0].get_offsets()
    signs = np.sign(np.sum(shown * reference, axis=0))
    np.testing.assert_allclose(shown * signs, reference, rtol=1e-6, atol=1e-9)
    ratio = eigenvalues[order[0]] / eigenvalues.sum()
    assert axes.get_xlabel() == f"principal component 1 ({ratio:.0%} of variance)"
    assert axes.get_ylabel().startswith("principal component 2")


@pytest.mark.parametrize(
    "prior, quantile",
    [("normal", scipy.stats.norm.ppf), ("logistic", scipy.stats.logistic.ppf),
     ("uniform", lambda q: 2 * np.asarray(q) - 1)],
)
def test_quantile_codes_corners_are_the_prior_quantiles(prior, quantile):
    model = tiny_model(mmdvae.MMDVAE, latent_dim=2, prior=prior)
    codes = plotting.quantile_codes(model.prior, num_rows=5, quantile_range=(0.1, 0.8))
    assert codes.shape == (5, 5, 2)
    low, high = quantile(0.1), quantile(0.8)
    np.testing.assert_allclose(codes[0, 0], [low, high], rtol=1e-5)  # top left
    np.testing.assert_allclose(codes[0, -1], [high, high], rtol=1e-5)
    np.testing.assert_allclose(codes[-1, 0], [low, low], rtol=1e-5)
    np.testing.assert_allclose(codes[-1, -1], [high, low], rtol=1e-5)
    np.testing.assert_allclose(codes[2, 1], [quantile(0.275), quantile(0.45)], rtol=1e-5)


def test_morph_grid_decodes_the_quantile_codes():
    model = tiny_model(mmdvae.MMDVAE, latent_dim=2, prior="logistic")
    figure = plotting.morph_grid(model, num_rows=4, quantile_range=(0.05, 0.95))
    codes = plotting.quantile_codes(model.prior, 4, (0.05, 0.95)).reshape(-1, 2)
    expected = plotting.tile_images(model.decode(codes).numpy(), 4)[..., 0]
    np.testing.assert_allclose(shown_canvas(figure), expected, atol=1e-6)
    labels = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert labels == [f"{scipy.stats.logistic.ppf(quantile):.2f}" for quantile in (0.05, 0.95)]


def test_morph_grid_refuses_codes_it_cannot_draw():
    with pytest.raises(ValueError, match="latent_dim=2; received a model with latent_dim=3"):
        plotting.morph_grid(tiny_model(mmdvae.MMDVAE, latent_dim=3))
    with pytest.raises(ValueError, match="quantile_range"):
        plotting.quantile_codes(tiny_model(mmdvae.MMDVAE, latent_dim=2).prior,
                                quantile_range=(0.0, 0.9))


def test_interpolation_grid_rows_run_from_start_to_end(images):
    model = tiny_model(mmdvae.MMDVAE, latent_dim=3)
    figure = plotting.interpolation_grid(model, images[:2], images[2:4], num_steps=3)
    canvas = shown_canvas(figure)
    assert canvas.shape == (2 * 8, 5 * 8)
    np.testing.assert_array_equal(canvas[8:16, 0:8], images[1, ..., 0])
    np.testing.assert_array_equal(canvas[8:16, 32:40], images[3, ..., 0])
    start, end = model.encode(images[1:2]), model.encode(images[3:4])
    np.testing.assert_allclose(canvas[8:16, 8:16], model.decode(start)[0, ..., 0], atol=1e-6)
    middle = model.decode(0.5 * start + 0.5 * end)[0, ..., 0]
    np.testing.assert_allclose(canvas[8:16, 16:24], middle, atol=1e-6)


def test_mixture_density_matches_scipy():
    rng = np.random.default_rng(3)
    means = rng.normal(size=(7, 2))
    log_variances = rng.normal(scale=0.5, size=(7, 2))
    points = rng.normal(size=(11, 2)) * 2
    expected = np.mean([
        scipy.stats.multivariate_normal(mean, np.diag(np.exp(log_var))).pdf(points)
        for mean, log_var in zip(means, log_variances, strict=True)], axis=0)
    np.testing.assert_allclose(plotting.latent.mixture_density(points, means, log_variances),
                               expected, rtol=1e-10)


def test_mass_levels_of_a_standard_normal_are_analytic():
    grid_x, grid_y, points, cell_area = plotting.latent.grid_points((-7, 7), (-7, 7), size=400)
    density = scipy.stats.multivariate_normal(np.zeros(2), np.eye(2)).pdf(points)
    levels = plotting.latent.mass_levels(density, cell_area, masses=(0.5, 0.9))
    # The region {p > c} of N(0, I) in 2-D holds mass 1 - 2 pi c.
    np.testing.assert_allclose(levels, np.sort((1 - np.array([0.5, 0.9])) / (2 * np.pi)),
                               rtol=2e-2)


def test_density_contours_draws_q_against_p():
    model = tiny_model(mmdvae.MMDVAE, latent_dim=2)
    rng = np.random.default_rng(4)
    codes = rng.normal(loc=2.0, size=(200, 2))
    figure = plotting.density_contours(codes, model.prior, z_log_var=np.full((200, 2), -2.0))
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["p(z)", "q(z)"]
    assert sum(type(c).__name__ == "QuadContourSet" for c in axes.collections) == 2
    assert plotting.figure_to_array(figure)[..., :3].std() > 10
    with pytest.raises(ValueError, match=r"2-D codes only; received shape \(200, 3\)"):
        plotting.density_contours(rng.normal(size=(200, 3)), model.prior)


def test_training_curves_read_a_history_a_dict_and_a_file(tmp_path):
    values = {"loss": [3.0, 2.0, 1.0], "mmd": [0.5, 0.2, 0.1], "val_loss": [3.5, 2.5, 2.0]}

    class History:
        history = values

    path = tmp_path / "history.json"
    path.write_text(json.dumps({"epochs": 3, "history": values}))
    for source in (History(), values, path, str(path)):
        figure = plotting.training_curves(source)
        loss_axes = figure.axes[0]
        assert loss_axes.get_title() == "loss"
        np.testing.assert_array_equal(loss_axes.lines[1].get_ydata(), values["val_loss"])
        assert [axes.get_title() for axes in figure.axes if axes.get_visible()] == ["loss", "mmd"]
        plt.close(figure)
    with pytest.raises(ValueError, match="must name logged quantities"):
        plotting.training_curves(values, keys=["kl"])
    with pytest.raises(TypeError, match="received an object of type int"):
        plotting.training_curves(3)
    with pytest.raises(ValueError, match="no history file"):
        plotting.training_curves(tmp_path / "missing.json")


def test_figures_draw_into_given_axes(images):
    model = tiny_model(mmdvae.MMDVAE, latent_dim=2)
    figure, grid = plt.subplots(1, 3)
    assert plotting.sample_grid(model, num_samples=4, axes=grid[0]) is figure
    assert plotting.morph_grid(model, num_rows=3, axes=grid[1]) is figure
    assert plotting.latent_scatter(np.zeros((3, 2)), np.arange(3), axes=grid[2]) is figure
    assert len(figure.axes) == 3


def test_figures_are_made_without_pyplot(images):
    model = tiny_model(mmdvae.MMDVAE, latent_dim=2)
    figures = [plotting.image_grid(images), plotting.sample_grid(model, num_samples=4),
               plotting.morph_grid(model, num_rows=3),
               plotting.latent_scatter(np.zeros((3, 2)) + np.arange(3)[:, None], np.arange(3)),
               plotting.training_curves({"loss": [2.0, 1.0]})]
    assert plt.get_fignums() == []  # nothing to close, nothing accumulates
    for figure in figures:
        assert isinstance(figure, matplotlib.figure.Figure)
        assert plotting.figure_to_array(figure, dpi=20)[..., :3].std() > 0
    # A notebook shows the figure as a PNG, whatever the matplotlib backend.
    formatter = pytest.importorskip("IPython.core.formatters").PNGFormatter()
    png = formatter(figures[0])
    with PIL.Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and np.asarray(image)[..., :3].std() > 10


def test_figure_to_array_leaves_a_pyplot_figure_as_it_was():
    figure, axes = plt.subplots(figsize=(2.0, 1.0), dpi=50)
    axes.plot([0, 1], [1, 0])
    canvas = figure.canvas
    pixels = plotting.figure_to_array(figure, dpi=30)
    assert pixels.shape == (30, 60, 4)  # 2 x 1 inches at 30 dpi
    assert figure.canvas is canvas and figure.dpi == 50


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m, x: plotting.image_grid((x * 255).astype("uint8")), TypeError,
         r"`images` must hold floating-point images in \[0, 1\]; received images of dtype "
         r"uint8"),
        (lambda m, x: plotting.image_grid(x[:0]), ValueError,
         r"`images` must have shape .* with n >= 1; received shape \(0, 8, 8, 1\)"),
        (lambda m, x: plotting.tile_images(x, num_columns=2.5), TypeError,
         r"`num_columns` must be an integer >= 1; received num_columns=2.5 of type float"),
        (lambda m, x: plotting.sample_grid(m, num_samples=0), ValueError,
         r"received num_samples=0"),
        (lambda m, x: plotting.sample_grid(m, num_samples=4, seed="a"), TypeError,
         r"`seed` must be an integer >= 0; received seed='a'"),
        (lambda m, x: plotting.interpolation_grid(m, x[:2], x[2:4], num_steps=1), ValueError,
         r"`num_steps` must be an integer >= 2; received num_steps=1"),
        (lambda m, x: plotting.latent_scatter(np.zeros((4, 2)), np.arange(4),
                                              class_names=["a", "b"]), ValueError,
         r"`class_names` must name every class: labels run up to 3, so 4 names are needed; "
         r"received 2 names"),
        (lambda m, x: plotting.latent_scatter(np.zeros((4, 2)), np.arange(4) - 1.5,
                                              class_names=list("abcd")), ValueError,
         r"`labels` must be non-negative integers to index `class_names`; received labels "
         r"of dtype float64 from -1.5"),
        (lambda m, x: plotting.quantile_codes(m.prior, quantile_range=0.9), TypeError,
         r"`quantile_range` must be a pair of numbers .*received quantile_range=0.9"),
        (lambda m, x: plotting.morph_grid(m, num_rows=-2), ValueError,
         r"received num_rows=-2"),
    ],
)
def test_bad_figure_arguments_are_named(call, error, message, images):
    with pytest.raises(error, match=message):
        call(tiny_model(mmdvae.MMDVAE, latent_dim=2), images)
