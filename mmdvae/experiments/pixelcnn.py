"""InfoVAE paper, section 5.2: four objectives with a PixelCNN decoder on binarised MNIST.

Zhao, Song and Ermon, "InfoVAE: Information Maximizing Variational
Autoencoders" (AAAI 2019), section 5.2 (figure 6, table 1) and appendix C:
binarised MNIST, a convolutional Gaussian encoder (the DCGAN architecture,
``network="dcgan"``) and a PixelCNN decoder conditioned on ``z``
(``mmdvae.pixelcnn.PixelCNN``: a small gated PixelCNN, the ``"pixelcnn"``
likelihood: exact autoregressive likelihood, conditioned on maps the dcgan
decoder makes from ``z``), trained end to end with Adam(1e-3), for latent sizes
2, 5 and 10. The four objectives the paper compares:

- ELBO (``alpha = 0, lambda = 1``): ``registry.get("elbo")``;
- the adversarial autoencoder (AAE, adversarial ``D(q(z) || p(z))``, weight 1);
- InfoVAE with the Stein variational gradient (``alpha = 1``, weight 1);
- the MMD-VAE (``alpha = 1``, the paper's ``lambda = 1000``).

The paper: "for this experimental setting of flexible decoders, ELBO learns a
latent code that does not contain any information about x"; InfoVAE
"utilize[s] the latent variables even in the presence of a very flexible
decoder"; "MMD regularization generally performs well in all the cases and the
performance is stable with respect to the latent code dimensions" (figure 6 C:
the class distribution of samples); the adversarial autoencoder "takes much
longer to converge" (figure 6 D); table 1, 5-D code: "all the regularizations
perform on-par or superior compared to our ELBO baseline" in log-likelihood.

The training images are binarised stochastically, a new draw every epoch
(``mmdvae.data.load(binarize="stochastic")``); the evaluation images are one
fixed draw. Recorded over training, every ``record_every`` steps, on
``test_images`` test images: the held-out loss, the mutual information
``I_q(x; z)`` of the encoder (at most ``log test_images`` nats), the active
units (``Var_x E[z_u | x] > 0.01``), the full-batch MMD of the test codes
against as many prior draws (the tutorial's kernel, unbiased) and
``log det Cov[z] / d`` (figure 6 A, B, D). At the end: the class
cross-entropy of ``samples`` ancestral samples judged by a classifier of the
digits, minus the real labels' entropy (figure 6 C), the accuracy of a
5-nearest-neighbour classifier of the digits from the codes of ``labelled``
labelled training images, and the importance-sampled ``log p(x)`` of
``likelihood_images`` test images with ``likelihood_samples`` samples of
``q(z|x)`` each (for the models without a KL term, whose posteriors are narrow,
the estimate is biased low).

Scales. The paper trains "to convergence" and gives no schedule. ``source``
trains each model until the held-out loss improved by less than 0.5 % over
the last 10 % of its steps (checked from ``min_steps``), at most ``max_steps``
steps of batch 100, for 3 seeds; ``short`` one pass over 15,000 images, one
seed; ``quick`` a few steps of a tiny PixelCNN. At the source scale a model
trains at most 2,000 steps (200,000 images, 3.3 passes over the training set):
36 models (4 objectives, 3 latent sizes, 3 seeds) at about 10 minutes each on 2
CPU cores fill about 6 hours, the most this experiment's share of the compute
allows.
"""

import keras
import numpy as np

from mmdvae import data, evaluation, plotting
from mmdvae.experiments.claims import Claim, mean_and_error
from mmdvae.experiments.report import Summary, Table, shown_images, stored_images
from mmdvae.experiments.runner import Experiment
from mmdvae.experiments.training import ConvergenceRule
from mmdvae.models import registry
from mmdvae.pixelcnn import PixelCNN

SIZES = {
    "source": {"latent_dims": (2, 5, 10), "seeds": 3, "max_steps": 2000, "min_steps": 1000,
               "record_every": 250, "test_images": 1000, "labelled": 1000, "samples": 500,
               "likelihood_images": 100, "likelihood_samples": 32, "filters": 16, "layers": 4,
               "classifier_images": 60_000, "classifier_epochs": 2},
    "short": {"latent_dims": (2, 5, 10), "seeds": 1, "max_steps": 150, "min_steps": 150,
              "record_every": 50, "test_images": 1000, "labelled": 1000, "samples": 200,
              "likelihood_images": 100, "likelihood_samples": 32, "filters": 16, "layers": 4,
              "classifier_images": 60_000, "classifier_epochs": 2},
    "quick": {"latent_dims": (2,), "seeds": 1, "max_steps": 4, "min_steps": 4,
              "record_every": 2, "test_images": 200, "labelled": 200, "samples": 10,
              "likelihood_images": 10, "likelihood_samples": 8, "filters": 8, "layers": 2,
              "classifier_images": 2000, "classifier_epochs": 1},
}
BATCH_SIZE = 100
MODELS = {
    "elbo": ("elbo", {}, "ELBO"),
    "aae": ("aae", {"encoder_type": "gaussian", "lambda_": 1.0}, "AAE"),
    "stein": ("infovae", {"divergence": "stein", "alpha": 1.0, "lambda_": 1.0,
                          "encoder_type": "gaussian"}, "InfoVAE-Stein"),
    "mmd": ("mmd", {"encoder_type": "gaussian", "lambda_": 1000.0}, "MMD-VAE"),
}
#: The latent size of the paper's log-likelihood table.
TABLE_LATENT_DIM = 5
#: Below this I_q(x; z) (nats) a code counts as unused (the likelihood note).
UNUSED_CODE_NATS = 0.05
#: The held-out loss must improve by at least this much over the last 10 % of steps.
CONVERGENCE_TOLERANCE = 0.005

CLAIMS = {
    "unused": Claim(
        "With a flexible (PixelCNN) decoder, ELBO learns a latent code that does not contain "
        "any information about x",
        "section 5.2, figure 6 (A, B)",
        "per seed, margin = 0.5 nats - ELBO's largest I_q(x; z) over the latent sizes",
    ),
    "used": Claim(
        "InfoVAE utilizes the latent variables even in the presence of a very flexible "
        "decoder",
        "introduction; section 5.2; conclusion",
        "per seed, margin = min over latent sizes of (MMD-VAE's I_q - ELBO's I_q - 1 nat)",
    ),
    "classes": Claim(
        "MMD regularization generally performs well in all the cases and the performance is "
        "stable with respect to the latent code dimensions",
        "section 5.2, figure 6 (C)",
        "per seed, margin = min over latent sizes of (the best other objective's excess class "
        "cross-entropy - MMD-VAE's + 0.05 nats): MMD-VAE's samples within 0.05 nats of the "
        "best objective at every latent size",
    ),
    "likelihood": Claim(
        "All the regularizations perform on-par or superior compared to our ELBO baseline "
        "in log-likelihood",
        "section 5.2, table 1 (5-D code)",
        f"per seed, margin = min over AAE, Stein, MMD of (log p(x) - ELBO's log p(x) + 2 "
        f"nats), at the latent size nearest {TABLE_LATENT_DIM}",
    ),
    "speed": Claim(
        "The adversarial autoencoder takes much longer to converge",
        "section 5.2, figure 6 (D)",
        "per seed, margin = min over latent sizes of (AAE's steps to reach its final "
        "MMD(test codes, prior) within 10 % - MMD-VAE's steps to reach its own)",
    ),
}


def binarized(images, seed: int) -> np.ndarray:
    """One fixed stochastic binarisation: each pixel is 1 with its intensity."""
    return (np.random.default_rng(seed).random(images.shape) < images).astype(np.float32)


def build(name: str, latent_dim: int, sizes: dict, seed: int):
    entry, settings, _ = MODELS[name]
    pixelcnn = PixelCNN(filters=sizes["filters"], num_layers=sizes["layers"])
    return registry.get(entry).build(latent_dim, likelihood=pixelcnn, seed=seed, **settings)


def compile_model(model, jit_compile):
    """Adam(1e-3) for the autoencoder (and the AAE's discriminator)."""
    arguments = {}
    if isinstance(model, registry.get("aae").model_class):
        arguments["discriminator_optimizer"] = keras.optimizers.Adam(1e-3)
    # The PixelCNN's masked convolutions train several times faster without XLA on CPUs.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False, **arguments)


def latent_use(model, test_images, seed: int) -> dict:
    """The measures of figure 6 (A, B) and latent use on ``test_images``."""
    z_mean, z_log_var = evaluation.posterior_parameters(model, test_images)
    codes = evaluation.encode_dataset(model, test_images, seed=seed)
    prior = evaluation.prior_samples(model, len(codes), seed=seed + 1)
    return {
        "test_loss": model.evaluate(test_images, batch_size=BATCH_SIZE, verbose=0,
                                    return_dict=True)["loss"],
        "mutual_information": evaluation.mutual_information(z_mean, z_log_var, seed=seed),
        "active_units": float(evaluation.active_units(z_mean)),
        "mmd": evaluation.full_data_mmd(codes, prior, estimator="unbiased"),
        "log_det_covariance_per_dim": evaluation.log_det_covariance(codes) / codes.shape[1],
    }


def steps_to_settle(steps, values, tolerance: float = 0.1) -> int:
    """The first recorded step from which ``values`` stay within ``tolerance`` of the last.

    Within means ``|value - last| <= tolerance * max(|last|, 1e-3 * max |values|)``.
    """
    values = np.asarray(values, dtype=np.float64)
    scale = tolerance * max(abs(values[-1]), 1e-3 * np.max(np.abs(values)))
    inside = np.abs(values - values[-1]) <= scale
    first = len(values) - 1
    while first > 0 and inside[first - 1]:
        first -= 1
    return int(steps[first])


def model_and_batches(run, name: str, latent_dim: int, seed: int):
    """``(model, batches, model_seed)`` of the phase ``{name}_z{latent_dim}_seed{seed}``.

    The compiled model at its initial weights and its repeating training batches,
    stochastically binarised anew every epoch.
    """
    model_seed = run.seed_for(f"{name}_z{latent_dim}_seed{seed}")
    model = build(name, latent_dim, run.sizes, model_seed)
    compile_model(model, run.jit_compile)
    batches = data.load("mnist", "train", batch_size=BATCH_SIZE, shuffle=True, seed=model_seed,
                        binarize="stochastic", data_dir=run.data_dir).repeat()
    return model, batches, model_seed


def evaluation_images(run):
    """``(binarised, grey, labels)``: the evaluation images, one fixed binarisation."""
    grey, labels = run.load("mnist", "test", train_size=run.sizes["test_images"])
    return binarized(grey, run.seed_for("data") + 1), grey, labels


def train(run, name: str, latent_dim: int, seed: int, images: dict) -> dict:
    """Trains one model; returns its curves and final measures."""
    sizes, phase = run.sizes, f"{name}_z{latent_dim}_seed{seed}"
    model, batches, model_seed = model_and_batches(run, name, latent_dim, seed)
    run.log(f"{MODELS[name][2]}, z = {latent_dim}, seed {seed}: up to {sizes['max_steps']} "
            f"steps of batch {BATCH_SIZE}")
    test_images = images["test"]
    record = run.fit(
        model, batches, steps=sizes["max_steps"], source_steps=None,
        record_every=sizes["record_every"],
        measure=lambda model: latent_use(model, test_images, model_seed),
        convergence=ConvergenceRule("test_loss", tolerance=CONVERGENCE_TOLERANCE,
                                    min_steps=sizes["min_steps"]))
    estimate = evaluation.log_likelihood(
        model, test_images[:sizes["likelihood_images"]], num_samples=sizes["likelihood_samples"],
        seed=model_seed, batch_size=2000)
    quality = run.sample_quality(model, "mnist", images["test_grey"], images["test_labels"],
                                 sizes["samples"], sizes["classifier_epochs"],
                                 _classifier_images(sizes), seed=model_seed)
    curves = record["curves"]
    return {
        **{key: curves[key][-1] for key in (
            "test_loss", "mutual_information", "active_units", "mmd",
            "log_det_covariance_per_dim")},
        "excess_cross_entropy": quality["excess_cross_entropy"],
        "mean_top_probability": quality["mean_top_probability"],
        "classifier_frechet_distance": quality["classifier_frechet_distance"],
        "accuracy": evaluation.latent_classification_accuracy(
            model, images["train"], images["train_labels"], test_images,
            images["test_labels"], num_labelled=sizes["labelled"], classifier="knn",
            seed=model_seed),
        "log_likelihood": estimate.mean,
        "log_likelihood_standard_error": estimate.standard_error,
        "steps_to_settle_mmd": steps_to_settle(curves["step"], curves["mmd"]),
        "training": {phase: record},
        "reconstructions": stored_images(model.reconstruct(test_images[:8])),
        "samples": stored_images(model.sample(8, seed=0)),
    }


def _classifier_images(sizes):
    return None if sizes["classifier_images"] >= 60_000 else sizes["classifier_images"]


def _curves_figure(records, dims, seeds):
    keys = (("mutual_information", "I_q(x; z), nats"), ("active_units", "active units"),
            ("mmd", "MMD^2(test codes, prior)"), ("log_det_covariance_per_dim",
                                                  "log det Cov[z] / d"))
    figure = plotting.StandaloneFigure(figsize=(14, 3.2 * len(dims)), layout="tight")
    grid = np.asarray(figure.subplots(len(dims), len(keys), squeeze=False))
    for row, latent_dim in enumerate(dims):
        for column, (key, title) in enumerate(keys):
            axes = grid[row, column]
            for index, (name, (_, _, label)) in enumerate(MODELS.items()):
                for seed in seeds:
                    curves = records[name, latent_dim, seed]["training"][
                        f"{name}_z{latent_dim}_seed{seed}"]["curves"]
                    axes.plot(curves["step"], curves[key], color=f"C{index}", alpha=0.8,
                              label=label if seed == seeds[0] else None)
            if key == "mmd":
                axes.set_yscale("symlog", linthresh=1e-4)
            axes.set(xlabel="step", title=f"z = {latent_dim}: {title}")
    grid[0, 0].legend(fontsize="x-small")
    return figure


def _images_figure(records, dims, seed, test_images):
    rows = [test_images[:8]]
    for latent_dim in dims:
        for name in MODELS:
            record = records[name, latent_dim, seed]
            rows += [shown_images(record["reconstructions"]), shown_images(record["samples"])]
    return plotting.image_grid(np.concatenate(rows), num_columns=8,
                               title="test images; then per model: reconstructions, samples")


def _likelihood_margin(value, name, latent_dim, seed) -> float:
    """The likelihood claim's margin of one model: log p(x) - the ELBO's + 2 nats."""
    return (value(name, latent_dim, seed, "log_likelihood")
            - value("elbo", latent_dim, seed, "log_likelihood") + 2.0)


def _likelihood_bound_note(value, latent_dim, seeds, others) -> str:
    """Whether the importance-sampled log p(x), a lower bound, could turn the verdict."""
    def margin(name, seed):
        return _likelihood_margin(value, name, latent_dim, seed)

    margins = "; ".join(f"{MODELS[name][2]} " + "/".join(f"{margin(name, s):+.2f}"
                                                           for s in seeds) for name in others)
    information = [abs(value("mmd", latent_dim, s, "mutual_information")) for s in seeds]
    unused = "/".join(f"{nats:.2f}" for nats in information)
    settled = (all(margin("mmd", s) < 0 for s in seeds)
               and max(information) < UNUSED_CODE_NATS)
    return (
        "It is a stochastic lower bound, loosest where q(z|x) is a poor proposal for "
        "p(z|x): the AAE and Stein, which are not trained on a bound of log p(x), could gain "
        "from more samples. More samples raise the ELBO's estimate too, and one "
        f"regularisation below the ELBO is enough to fail the claim. At z = {latent_dim}, each "
        f"regularisation's own margin per seed: {margins}. The MMD-VAE's estimate is close "
        f"to exact where its code is unused (I_q = {unused} nats): q(z|x) is then about "
        "p(z), and a decoder trained on codes independent of x has no use for them, so "
        "every importance weight is about p(x). "
        + ("Its own margin is negative on every seed with its code unused, so more samples "
           "would not turn this verdict." if settled else
           "So more samples could turn this verdict."))


def perform(run) -> Summary:
    sizes, seeds, dims = run.sizes, run.seeds, run.sizes["latent_dims"]
    train_images, train_labels = run.load("mnist", "train", train_size=10_000)
    test_binarised, test_grey, test_labels = evaluation_images(run)
    images = {"train": binarized(train_images, run.seed_for("data")),
              "train_labels": train_labels, "test": test_binarised, "test_grey": test_grey,
              "test_labels": test_labels}
    records = {}
    for seed in seeds:
        for latent_dim in dims:
            for name in MODELS:
                records[name, latent_dim, seed] = run.phase(
                    f"{name}_z{latent_dim}_seed{seed}",
                    lambda name=name, latent_dim=latent_dim, seed=seed: train(
                        run, name, latent_dim, seed, images))
    nearest = min(dims, key=lambda d: abs(d - TABLE_LATENT_DIM))

    def value(name, latent_dim, seed, key):
        return records[name, latent_dim, seed][key]

    def listing(key, names=tuple(MODELS), digits=3):
        return "; ".join(
            f"z = {d}: " + ", ".join(
                f"{MODELS[n][2]} " + "/".join(f"{value(n, d, s, key):.{digits}g}" for s in seeds)
                for n in names) for d in dims)

    others = [name for name in MODELS if name != "elbo"]
    verdicts = [
        CLAIMS["unused"].decide(
            [0.5 - max(value("elbo", d, s, "mutual_information") for d in dims) for s in seeds],
            "I_q(x; z) per seed: " + listing("mutual_information", ("elbo",)), run.quick),
        CLAIMS["used"].decide(
            [min(value("mmd", d, s, "mutual_information")
                 - value("elbo", d, s, "mutual_information") - 1.0 for d in dims)
             for s in seeds],
            "I_q(x; z) per seed: " + listing("mutual_information", ("mmd", "elbo")), run.quick),
        CLAIMS["classes"].decide(
            [min(min(value(n, d, s, "excess_cross_entropy") for n in MODELS if n != "mmd")
                 - value("mmd", d, s, "excess_cross_entropy") + 0.05 for d in dims)
             for s in seeds],
            "excess class cross-entropy per seed: " + listing("excess_cross_entropy"),
            run.quick),
        CLAIMS["likelihood"].decide(
            [min(_likelihood_margin(value, n, nearest, s) for n in others) for s in seeds],
            f"z = {nearest}: log p(x) per seed: " + "; ".join(
                f"{MODELS[n][2]} " + "/".join(f"{value(n, nearest, s, 'log_likelihood'):.2f}"
                                              for s in seeds) for n in MODELS), run.quick),
        CLAIMS["speed"].decide(
            [min(value("aae", d, s, "steps_to_settle_mmd")
                 - value("mmd", d, s, "steps_to_settle_mmd") for d in dims) for s in seeds],
            "steps until the MMD settles per seed: " + listing(
                "steps_to_settle_mmd", ("aae", "mmd")), run.quick),
    ]
    keys = ("mutual_information", "active_units", "accuracy", "mmd",
            "log_det_covariance_per_dim", "excess_cross_entropy", "log_likelihood",
            "test_loss")
    rows = []
    for latent_dim in dims:
        for name in MODELS:
            cells = []
            for key in keys:
                mean, error = mean_and_error([value(name, latent_dim, s, key) for s in seeds])
                cells.append(f"{mean:.4g} ± {error:.2g}" if len(seeds) > 1 else mean)
            steps = [records[name, latent_dim, s]["training"][
                f"{name}_z{latent_dim}_seed{s}"]["steps"] for s in seeds]
            rows.append([latent_dim, MODELS[name][2], *cells,
                         "/".join(str(step) for step in steps)])
    table = Table("Latent use, samples and likelihood (mean ± s.e. over seeds)", [
        "z", "model", "I_q(x; z) (nats)", "active units", "latent 5-NN accuracy",
        "MMD^2(q(z), p(z))", "log det Cov / d", "excess class cross-entropy (nats)",
        "log p(x) (nats)", "test loss", "steps trained (per seed)"], rows,
        note=f"I_q over {sizes['test_images']} test images (at most log "
             f"{sizes['test_images']} = {np.log(sizes['test_images']):.2f} nats); accuracy "
             f"from {sizes['labelled']} labelled training codes; log p(x) of "
             f"{sizes['likelihood_images']} test images with {sizes['likelihood_samples']} "
             f"samples of q(z|x) each; {sizes['samples']} ancestral samples per model for "
             "the class cross-entropy (minus the real labels' entropy).")
    results = {f"{name}/z{d}/seed{s}": {key: value(name, d, s, key) for key in (
        *keys, "steps_to_settle_mmd", "seconds")}
        for d in dims for name in MODELS for s in seeds}
    figures = {
        "latent_use_over_training": (
            _curves_figure(records, dims, seeds),
            "Over training, one row per latent size, one line per model and seed: I_q(x; z), "
            "active units, the full-batch MMD of the test codes against the prior (figure 6 "
            "A, D) and log det Cov[z] / d (figure 6 B)."),
        "images": (_images_figure(records, dims, seeds[0], images["test"]),
                   f"Seed {seeds[0]}. Row 1: binarised test images. Then for each latent size "
                   "and model (ELBO, AAE, Stein, MMD-VAE): the PixelCNN's reconstructions of "
                   "those images (decoded from their codes) and 8 samples from the prior. A "
                   "model that ignores z reconstructs other digits than its inputs."),
    }
    return Summary(results, verdicts, [table], figures, notes=[
        "The paper trains to convergence without a stated schedule; each model here trains "
        f"until its held-out loss improved by less than {CONVERGENCE_TOLERANCE:.1%} over the "
        f"last 10 % of its steps (from step {sizes['min_steps']}), at most "
        f"{sizes['max_steps']} steps of batch {BATCH_SIZE}; the table gives the steps each "
        "trained. A model stopped by the cap may not have converged, which could change "
        "the claims on latent use (a code may start to be used late).",
        "The weights of the AAE's and the Stein divergence are 1 (the extracted paper text "
        "lost them); the MMD's is the paper's 1000. The PixelCNN is small (16 filters, 4 "
        "gated layers) so that it trains on 2 CPU cores; the paper's is not specified beyond "
        "'a simplified version of the conditional PixelCNN'. Its conditioning maps come from "
        "the dcgan decoder (the location-dependent conditioning of van den Oord et al.).",
        "Images shown are the PixelCNN's probabilities along one ancestral sample (its "
        "`mean`), drawn pixel by pixel.",
        f"log p(x) is the paper's importance-sampled estimate with q(z|x) as the proposal, "
        f"{sizes['likelihood_samples']} samples for each of {sizes['likelihood_images']} "
        "test images (the paper gives neither number). " + _likelihood_bound_note(
            value, nearest, seeds, others),
        "The curves above are recorded every 250 steps. `scripts/pixelcnn_first_steps.py` "
        "follows the same models' trajectories step for step and records them every 10, "
        "with the posterior's variance and the gradient of each term of the loss on the "
        "encoder; its runs (the MMD-VAE at z = 10, seeds 0 and 1; the MMD-VAE and the ELBO "
        "at z = 5, seed 0) are in `docs/results/pixelcnn-first-steps/`.",
    ])


EXPERIMENT = Experiment(
    name="pixelcnn",
    title="InfoVAE paper, section 5.2: four objectives with a PixelCNN decoder",
    source="Zhao, Song and Ermon, InfoVAE (AAAI 2019), section 5.2 (figure 6, table 1) and "
           "appendix C",
    claim="with a PixelCNN decoder ELBO leaves z unused while the MMD-VAE uses it; MMD's "
          "samples are good at every latent size; the regularisations' likelihoods match "
          "ELBO's",
    sizes=SIZES,
    minutes={"source": 360.0, "short": 12.0},
    quick_seconds=40.0,
    datasets=("mnist",),
    run=perform,
)
