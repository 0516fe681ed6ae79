"""The Keras blog post: ELBO-VAE against MMD-VAE with 2-D codes on Fashion-MNIST and MNIST.

Keydana, "Representation learning with MMD-VAE" (Posit AI / RStudio TensorFlow
blog, 2018): the blog's small convolutional networks (``network="conv"``), a
2-dimensional code, the ELBO-VAE (``registry.get("elbo")``: Gaussian encoder,
Bernoulli decoder) against the MMD-VAE (``registry.get("mmd")``: deterministic
encoder, squared error, MMD), with samples, the test-set scatter and the
morphing grid drawn as training goes (``mmdvae.callbacks``, every
``figure_every`` epochs, into ``figures/DATASET_MODEL/``). Both train with
Adam(1e-3) and batch 100 (the blog's ELBO-VAE used Adam(1e-4)).

The blog's words, turned into numbers on the test codes (posterior means, what
its scatter shows):

- centre: the norm of the codes' mean (the prior's is 0);
- spread: the standard deviation of each coordinate and
  ``log det Cov / 2`` (0 for the prior's identity covariance);
- holes: the share of the prior's mass, within the disc of radius
  ``sqrt(-2 log 0.05) = 2.45`` that holds 95% of it, where no test code lies
  near. The disc is covered by square cells of side 0.1; a cell is a hole when
  no code lies within ``radius = 0.25 * sqrt(10,000 / n)`` of its centre (``n``
  test codes); holes are weighted by the prior's density. For ``n`` codes drawn
  from the prior itself, a cell at the disc's edge expects 15.6 codes within
  the radius, so the prior leaves no hole; the report gives that control;
- smoothness of the morphing grid (15 x 15 codes at the prior's 5%...95%
  quantiles, ``plotting.quantile_codes``): the mean absolute pixel change
  between horizontally or vertically neighbouring cells, and that change
  relative to the mean change between two cells drawn at random. The claims
  use the relative change (lower is smoother): a grid that hardly varies at
  all (codes collapsed near the origin) has a small neighbour change without
  morphing smoothly.

Also the MMD (unbiased, the tutorial's kernel) between the test codes (one
draw of ``q(z|x)`` each) and as many prior draws.

Sizes: the full run trains each model 3 epochs of 25,000 Fashion-MNIST images
and 2 epochs of 25,000 MNIST images (250,000 images in all), about 2 minutes on
2 CPU cores (measured: 92 s), and draws 30 figures (the blog
trained 50 epochs of 60,000). The quick run: Fashion-MNIST only, 1 epoch of 1,000 images per model,
about 10 seconds.
"""

import keras
import numpy as np
from scipy.spatial import cKDTree

from mmdvae import callbacks, data, evaluation, plotting, priors
from mmdvae.experiments.runner import Claim, Experiment, Summary, Table
from mmdvae.models import registry

SIZES = {
    "full": {"datasets": ("fashion_mnist", "mnist"), "train_images": 25_000,
             "epochs": 3, "epochs_mnist": 2, "test_images": 10_000, "figure_every": 1},
    "quick": {"datasets": ("fashion_mnist",), "train_images": 1000, "epochs": 1,
              "epochs_mnist": 1, "test_images": 1000, "figure_every": 1},
}
MODELS = {"elbo": "ELBO-VAE", "mmd": "MMD-VAE"}
BATCH_SIZE = 100
#: Radius of the disc holding 95% of the 2-D standard normal's mass.
DISC_RADIUS = float(np.sqrt(-2.0 * np.log(0.05)))
CELL_SIZE = 0.1
GRID_ROWS = 15

DATASET_NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST"}


def _claims(dataset):
    name = DATASET_NAMES[dataset]
    if dataset == "mnist":
        return {"smooth": Claim(
            "MNIST: the morphing looks much more organic with MMD-VAE",
            "blog: the MNIST paragraph at the end",
            "MMD-VAE's morphing grid changes less between neighbouring cells, relative to "
            "random pairs of cells, than ELBO's")}
    return {
        "centred": Claim(
            f"{name}: MMD-VAE's clusters are centered at (0,0)",
            "blog: MMD-VAE results, latent space",
            "the norm of the mean of MMD-VAE's test codes <= 0.2 (a fifth of the prior's sd)"),
        "spread": Claim(
            f"{name}: MMD-VAE's clusters look more nicely spread out in the two dimensions",
            "blog: MMD-VAE results, latent space",
            "|log det Cov / 2| of MMD-VAE's test codes below ELBO-VAE's"),
        "holes": Claim(
            f"{name}: nearly all space is filled with meaningful objects, which hasn't been "
            "the case [with ELBO]",
            "blog: MMD-VAE results, morphing",
            "the share of the prior's 95% disc without test codes (holes) is smaller for "
            "MMD-VAE than for ELBO-VAE"),
        "smooth": Claim(
            f"{name}: with MMD-VAE the smooth, continuous evolutions are impressive",
            "blog: MMD-VAE results, morphing",
            "MMD-VAE's morphing grid changes less between neighbouring cells, relative to "
            "random pairs of cells, than ELBO's"),
    }


# === Measures ===


def hole_share(codes, cell_size: float = CELL_SIZE, radius: float | None = None):
    """The prior-mass share of the 95% disc with no code within ``radius``; see the docstring.

    Returns ``(share, radius, centres, is_hole)``: the share, the radius used
    (``0.25 * sqrt(10,000 / n)`` by default), the disc's cell centres and which
    cells are holes.
    """
    codes = np.asarray(codes, np.float64)
    if radius is None:
        radius = 0.25 * np.sqrt(10_000 / len(codes))
    axis = np.arange(-DISC_RADIUS, DISC_RADIUS + cell_size, cell_size)
    centres = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    centres = centres[np.sum(centres**2, axis=1) <= DISC_RADIUS**2]
    distances, _ = cKDTree(codes).query(centres, k=1)
    is_hole = distances > radius
    weights = np.exp(-0.5 * np.sum(centres**2, axis=1))
    return float(weights[is_hole].sum() / weights.sum()), float(radius), centres, is_hole


def morph_smoothness(images, num_rows: int = GRID_ROWS, seed: int = 0) -> dict:
    """Mean absolute pixel change between neighbouring cells of a morphing grid.

    ``images`` are the ``num_rows x num_rows`` cells row by row. Returns the
    neighbours' mean change and, for scale, that of random pairs of cells.
    """
    grid = np.asarray(images, np.float64).reshape(num_rows, num_rows, -1)
    horizontal = np.abs(np.diff(grid, axis=1)).mean(axis=-1)
    vertical = np.abs(np.diff(grid, axis=0)).mean(axis=-1)
    neighbours = float(np.concatenate([horizontal.ravel(), vertical.ravel()]).mean())
    cells = grid.reshape(num_rows * num_rows, -1)
    pairs = np.random.default_rng(seed).integers(0, len(cells), size=(2000, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    random_pairs = float(np.abs(cells[pairs[:, 0]] - cells[pairs[:, 1]]).mean())
    return {"neighbour_change": neighbours, "random_pair_change": random_pairs,
            "relative_change": neighbours / random_pairs if random_pairs > 0 else float("nan")}


def code_measures(model, test_images, seed: int) -> dict:
    """Centre, spread, holes and MMD of the test codes."""
    means = np.asarray(model.encode(test_images), np.float64)
    draws = evaluation.encode_dataset(model, test_images, sample=True, seed=seed)
    prior_draws = evaluation.prior_samples(model, len(draws), seed=seed + 1)
    holes, radius, _, _ = hole_share(means)
    prior_holes, _, _, _ = hole_share(prior_draws, radius=radius)
    return {
        "centre_norm": float(np.linalg.norm(means.mean(axis=0))),
        "centre": means.mean(axis=0).tolist(),
        "std": means.std(axis=0).tolist(),
        "log_det_covariance": evaluation.log_det_covariance(means),
        "log_det_covariance_of_draws": evaluation.log_det_covariance(draws),
        "hole_share": holes,
        "hole_radius": radius,
        "prior_hole_share": prior_holes,
        "mmd": evaluation.full_data_mmd(draws, prior_draws, estimator="unbiased"),
    }


# === Training ===


def train(run, dataset: str, name: str, test_images, test_labels) -> dict:
    """Trains one model on one dataset with the figure callbacks; returns its measures."""
    sizes, phase = run.sizes, f"{dataset}_{name}"
    seed = run.seed_for(phase)
    epochs = sizes["epochs_mnist"] if dataset == "mnist" else sizes["epochs"]
    model = registry.get(name).build(2, network="conv", seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=run.jit_compile)
    train_images = data.load(dataset, "train", batch_size=BATCH_SIZE, shuffle=True, seed=seed,
                             train_size=sizes["train_images"], data_dir=run.data_dir)
    settings = dict(every=sizes["figure_every"], overwrite=True,
                    output_dir=run.directory / "figures" / phase)
    figure_callbacks = [
        callbacks.SampleGrid(**settings),
        callbacks.LatentScatter(test_images, test_labels, class_names=data.CLASS_NAMES[dataset],
                                gif=True, **settings),
        callbacks.MorphGrid(num_rows=GRID_ROWS, **settings),
    ]
    run.log(f"{MODELS[name]} on {DATASET_NAMES[dataset]}: epochs={epochs} over "
            f"{sizes['train_images']} images")
    history = model.fit(train_images, epochs=epochs, callbacks=figure_callbacks,
                        verbose=run.verbose)
    grid = plotting.quantile_codes(model.prior, GRID_ROWS).reshape(-1, 2).astype(np.float32)
    morph_images = np.asarray(model.decode(grid))
    return {
        **code_measures(model, test_images, seed),
        **morph_smoothness(morph_images),
        "final_loss": float(history.history["loss"][-1]),
        "codes": np.asarray(model.encode(test_images)),
        "morph_images": morph_images,
        "samples": np.asarray(evaluation.generate(model, 100, seed=0)),
    }


# === Figures ===


def _comparison_figure(dataset, records, labels):
    figure = plotting.StandaloneFigure(figsize=(13, 19), layout="constrained")
    grid = figure.subplots(3, 2)
    prior = priors.get_prior("normal", 2)
    for column, (name, title) in enumerate(MODELS.items()):
        record = records[dataset, name]
        plotting.image_grid(record["samples"], num_columns=10, axes=grid[0, column],
                            title=f"{title}: samples from the prior")
        plotting.latent_scatter(record["codes"], labels, prior=prior, axes=grid[1, column],
                                class_names=data.CLASS_NAMES[dataset],
                                title=f"{title}: test codes by class")
        plotting.image_grid(record["morph_images"], num_columns=GRID_ROWS, axes=grid[2, column],
                            title=f"{title}: morphing grid (prior quantiles 5%...95%)")
    figure.suptitle(DATASET_NAMES[dataset])
    return figure


def _holes_figure(dataset, records):
    figure = plotting.StandaloneFigure(figsize=(11, 5.2), layout="tight")
    for axes, (name, title) in zip(figure.subplots(1, 2), MODELS.items(), strict=True):
        record = records[dataset, name]
        share, radius, centres, is_hole = hole_share(record["codes"])
        axes.scatter(*centres[is_hole].T, s=2, color="tab:red", label="hole")
        axes.scatter(*record["codes"].T, s=1, color="tab:blue", alpha=0.3, label="test code")
        angle = np.linspace(0, 2 * np.pi, 200)
        axes.plot(DISC_RADIUS * np.cos(angle), DISC_RADIUS * np.sin(angle), color="grey")
        axes.set(aspect="equal", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5),
                 title=f"{title}: holes {share:.1%} of the prior's 95% disc")
        axes.legend(fontsize="x-small", markerscale=4, loc="upper right")
    figure.suptitle(f"{DATASET_NAMES[dataset]}: cells of the disc with no test code within "
                    f"{radius:.2f}")
    return figure


# === The experiment ===


def perform(run) -> Summary:
    sizes = run.sizes
    records, labels = {}, {}
    for dataset in sizes["datasets"]:
        test_images, labels[dataset] = run.load(dataset, "test", train_size=sizes["test_images"])
        for name in MODELS:
            records[dataset, name] = run.phase(
                f"{dataset}_{name}", lambda dataset=dataset, name=name, test_images=test_images:
                train(run, dataset, name, test_images, labels[dataset]))
    verdicts, rows, results, figures = [], [], {}, {}
    for dataset in sizes["datasets"]:
        elbo, mmd = records[dataset, "elbo"], records[dataset, "mmd"]
        claims = _claims(dataset)
        if "centred" in claims:
            verdicts += [
                claims["centred"].judge(
                    mmd["centre_norm"] <= 0.2,
                    f"MMD-VAE {mmd['centre_norm']:.3f}, ELBO-VAE {elbo['centre_norm']:.3f}",
                    run.quick),
                claims["spread"].judge(
                    abs(mmd["log_det_covariance"]) < abs(elbo["log_det_covariance"]),
                    f"log det Cov / 2: MMD-VAE {mmd['log_det_covariance']:.3f}, ELBO-VAE "
                    f"{elbo['log_det_covariance']:.3f}", run.quick),
                claims["holes"].judge(
                    mmd["hole_share"] < elbo["hole_share"],
                    f"holes: MMD-VAE {mmd['hole_share']:.1%}, ELBO-VAE {elbo['hole_share']:.1%} "
                    f"(prior draws: {mmd['prior_hole_share']:.1%})", run.quick),
            ]
        verdicts.append(claims["smooth"].judge(
            mmd["relative_change"] < elbo["relative_change"],
            f"neighbour / random-pair change: MMD-VAE {mmd['neighbour_change']:.4f} / "
            f"{mmd['random_pair_change']:.4f} = {mmd['relative_change']:.3f}, ELBO-VAE "
            f"{elbo['neighbour_change']:.4f} / {elbo['random_pair_change']:.4f} = "
            f"{elbo['relative_change']:.3f}", run.quick))
        for name, title in MODELS.items():
            record = records[dataset, name]
            rows.append([DATASET_NAMES[dataset], title, record["centre_norm"],
                         " / ".join(f"{value:.3g}" for value in record["std"]),
                         record["log_det_covariance"], record["hole_share"],
                         record["prior_hole_share"], record["mmd"], record["neighbour_change"],
                         record["random_pair_change"], record["relative_change"]])
            results[f"{dataset}/{name}"] = {key: value for key, value in record.items()
                                            if not isinstance(value, np.ndarray)}
        figures[f"{dataset}_comparison"] = (
            _comparison_figure(dataset, records, labels[dataset]),
            f"{DATASET_NAMES[dataset]}: the blog's three figures at the end of training, "
            "ELBO-VAE (left) and MMD-VAE (right): samples from the prior, test codes by class "
            "over the prior's contours (50%, 90%, 99% of its mass), decoded prior quantiles. "
            f"The frames of every epoch are in figures/{dataset}_elbo/ and "
            f"figures/{dataset}_mmd/ (with a GIF of the scatter).")
        figures[f"{dataset}_holes"] = (
            _holes_figure(dataset, records),
            f"{DATASET_NAMES[dataset]}: the holes measure; red cells of the prior's 95% disc "
            "have no test code within the radius.")
    table = Table("The test codes and the morphing grids", [
        "data", "model", "|mean|", "sd per axis", "log det Cov / 2", "holes",
        "holes of prior draws", "MMD^2 to the prior", "morph: neighbour change",
        "morph: random-pair change", "morph: relative change"], rows,
        note="Codes: posterior means of the test images; the MMD uses one draw of q(z|x) "
             "each. The ELBO-VAE shows Bernoulli probabilities and the MMD-VAE the squared "
             "error's sigmoid means, so the pixel changes compare two kinds of images.")
    return Summary(results, verdicts, [table], figures, notes=[
        f"Training is far shorter than the blog's 50 epochs of 60,000 images: here "
        f"{sizes['epochs']} (Fashion-MNIST) and {sizes['epochs_mnist']} (MNIST) epochs of "
        f"the first {sizes['train_images']} training images.",
    ])


EXPERIMENT = Experiment(
    name="blog",
    title="Keras blog post: ELBO-VAE against MMD-VAE with 2-D codes",
    source="Keydana, Representation learning with MMD-VAE, Posit AI (RStudio TensorFlow) "
           "blog, 2018",
    claim="with 2-D codes the MMD-VAE's are centred and spread like the prior, leave fewer "
          "holes and morph more smoothly than the ELBO-VAE's",
    sizes=SIZES,
    full_minutes=2.0,
    quick_seconds=10.0,
    datasets=("fashion_mnist", "mnist"),
    run=perform,
)
