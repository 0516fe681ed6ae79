"""The InfoVAE tutorial: the MMD-VAE on MNIST, fast to train to sensible samples.

Zhao, Song and Ermon, "A Tutorial on Information Maximizing Variational
Autoencoders (InfoVAE)" (Ermon group blog) and its code: MNIST, a 20-dimensional
code, batch 200, 200 prior samples per step, Adam(1e-3), the authors' networks
(``network="dcgan"``), the squared error averaged over pixels and the MMD with
the kernel ``exp(-||x - y||^2 / d^2)`` (``registry.get("mmd")``'s defaults). The
tutorial trains 10,000 iterations ("Training on a Titan X for approximately
one minute already gives very sensible samples"); with a 2-dimensional code
"we can observe good disentangling" of the digits.

Measured: every ``record_every`` iterations, the per-pixel squared error of the
test reconstructions, the MMD (unbiased, the training kernel) between the test
codes and as many prior draws, and the decoding of 10 fixed prior codes; at the
end, ``samples`` prior samples judged by a classifier of the real digits
(``mmdvae.evaluation``: class-distribution cross-entropy, classifier Frechet
distance, the classifier's mean top-class probability). A second model with a
2-dimensional code: the scatter of its test codes, its morphing grid and the
accuracy of a 5-nearest-neighbour classifier of the digits from the codes of
1,000 labelled training images (``evaluation.latent_classification_accuracy``),
against the same classifier on the pixels' first two principal components.

Sizes: the full run trains 1,000 iterations at z = 20 (200,000 images) and 300
at z = 2 (60,000), about 4.5 minutes on 2 CPU cores (measured: 257 s; the
dcgan networks train at about 1,200 images per second there), plus about a
minute the first time, to train and cache the image classifier; a tenth of the
tutorial's 10,000 iterations. The quick run trains 20 and 10 iterations, about
25 seconds.
"""

import keras
import numpy as np

from mmdvae import data, evaluation, plotting, priors
from mmdvae.experiments.runner import Claim, Experiment, Summary, Table
from mmdvae.models import registry

SIZES = {
    "full": {"iterations": 1000, "record_every": 100, "iterations_2d": 300,
             "test_images": 2000, "samples": 1000, "classifier_images": 60_000,
             "classifier_epochs": 2},
    "quick": {"iterations": 20, "record_every": 10, "iterations_2d": 10, "test_images": 300,
              "samples": 200, "classifier_images": 2000, "classifier_epochs": 1},
}
BATCH_SIZE = 200
NUM_LABELLED = 1000
SAMPLE_ROW = 10

CLAIMS = {
    "fast": Claim(
        "The MMD-VAE is fast to train and stable",
        "tutorial: introduction",
        "the test reconstruction error at the end is at most half the untrained model's",
        quick_decides=True,
    ),
    "samples": Claim(
        "Training for approximately one minute (10,000 iterations on a Titan X) already "
        "gives very sensible samples",
        "tutorial: Implementing a MMD Variational Autoencoder",
        "of the prior samples, the classifier's mean top-class probability >= 0.8 and the "
        "class cross-entropy exceeds the real labels' entropy by < 0.1 nats",
    ),
    "clusters": Claim(
        "With a 2-dimensional code we can observe good disentangling (the digits cluster)",
        "tutorial: last figure",
        "5-NN accuracy of the 2-D test codes (1,000 labelled training codes) >= 0.8",
    ),
}


class _Recorder(keras.callbacks.Callback):
    """Measures the model every ``record_every`` iterations (and before training)."""

    def __init__(self, record_every, test_images, prior_codes):
        super().__init__()
        self.record_every = record_every
        self.test_images = test_images
        self.prior_codes = prior_codes
        self.records = {"iteration": [], "squared_error": [], "mmd": [], "samples": []}

    def record(self, iteration):
        model = self.model
        codes = evaluation.encode_dataset(model, self.test_images)
        prior = evaluation.prior_samples(model, len(codes), seed=1)
        self.records["iteration"].append(iteration)
        self.records["squared_error"].append(
            evaluation.reconstruction_error(model, self.test_images)["mse_per_pixel"])
        self.records["mmd"].append(evaluation.full_data_mmd(codes, prior, estimator="unbiased"))
        self.records["samples"].append(np.asarray(model.decode(self.prior_codes)))

    def on_train_begin(self, logs=None):
        self.record(0)

    def on_epoch_end(self, epoch, logs=None):
        self.record((epoch + 1) * self.record_every)


def _training_data(run, seed):
    return data.load("mnist", "train", batch_size=BATCH_SIZE, shuffle=True, seed=seed,
                     data_dir=run.data_dir).repeat()


def train_tutorial_model(run, test_images, test_labels) -> dict:
    """The tutorial's model at z = 20, measured over training."""
    sizes, seed = run.sizes, run.seed_for("z20")
    model = registry.get("mmd").build(20, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=run.jit_compile)
    prior_codes = evaluation.prior_samples(model, SAMPLE_ROW, seed=2).astype(np.float32)
    recorder = _Recorder(sizes["record_every"], test_images, prior_codes)
    run.log(f"MMD-VAE, z = 20: {sizes['iterations']} iterations of batch {BATCH_SIZE}")
    model.fit(_training_data(run, seed), epochs=max(sizes["iterations"] // sizes["record_every"],
                                                    1),
              steps_per_epoch=sizes["record_every"], callbacks=[recorder], verbose=run.verbose)
    quality = run.sample_quality(model, "mnist", test_images, test_labels, sizes["samples"],
                                 sizes["classifier_epochs"], _classifier_images(sizes))
    records = recorder.records
    return {
        **quality,
        "final_squared_error": records["squared_error"][-1],
        "untrained_squared_error": records["squared_error"][0],
        "final_mmd": records["mmd"][-1],
        "iteration": np.array(records["iteration"]),
        "squared_error": np.array(records["squared_error"]),
        "mmd": np.array(records["mmd"]),
        "sample_rows": np.array(records["samples"]),
        "samples": np.asarray(evaluation.generate(model, 100, seed=3)),
    }


def _classifier_images(sizes):
    # All 60,000 training images: the classifier evaluation trains by default.
    return None if sizes["classifier_images"] >= 60_000 else sizes["classifier_images"]


def train_two_dimensional_model(run, test_images, test_labels) -> dict:
    """The tutorial's model at z = 2: test codes, morphing grid, k-NN accuracy."""
    sizes, seed = run.sizes, run.seed_for("z2")
    model = registry.get("mmd").build(2, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=run.jit_compile)
    run.log(f"MMD-VAE, z = 2: {sizes['iterations_2d']} iterations of batch {BATCH_SIZE}")
    model.fit(_training_data(run, seed), epochs=1, steps_per_epoch=sizes["iterations_2d"],
              verbose=run.verbose)
    train_images, train_labels = run.load("mnist", "train", train_size=10_000)
    accuracy = evaluation.latent_classification_accuracy(
        model, train_images, train_labels, test_images, test_labels, num_labelled=NUM_LABELLED,
        classifier="knn", seed=seed)
    # The same classifier on two principal components of the pixels of the same images.
    chosen = np.random.default_rng(seed).choice(len(train_images), NUM_LABELLED, replace=False)
    pixels = train_images[chosen].reshape(NUM_LABELLED, -1)
    mean, directions, _ = plotting.principal_components(pixels)
    baseline = evaluation.code_classification_accuracy(
        (pixels - mean) @ directions.T, train_labels[chosen],
        (test_images.reshape(len(test_images), -1) - mean) @ directions.T, test_labels, "knn")
    grid = plotting.quantile_codes(model.prior, 15).reshape(-1, 2).astype(np.float32)
    return {
        "knn_accuracy": accuracy,
        "pixel_pca_knn_accuracy": baseline,
        "codes": np.asarray(model.encode(test_images)),
        "morph_images": np.asarray(model.decode(grid)),
    }


def _curves_figure(record):
    figure = plotting.StandaloneFigure(figsize=(10, 3.8), layout="tight")
    error_axes, mmd_axes = figure.subplots(1, 2)
    error_axes.plot(record["iteration"], record["squared_error"], marker=".")
    error_axes.set(xlabel="iteration", ylabel="squared error per pixel", yscale="log",
                   title="test reconstruction error")
    mmd_axes.plot(record["iteration"], record["mmd"], marker=".")
    mmd_axes.set(xlabel="iteration", ylabel="MMD^2 (unbiased)",
                 title="MMD(test codes, prior draws)")
    return figure


def perform(run) -> Summary:
    sizes = run.sizes
    test_images, test_labels = run.load("mnist", "test", train_size=sizes["test_images"])
    main = run.phase("z20", lambda: train_tutorial_model(run, test_images, test_labels))
    flat = run.phase("z2", lambda: train_two_dimensional_model(run, test_images, test_labels))
    verdicts = [
        CLAIMS["fast"].judge(
            main["final_squared_error"] <= 0.5 * main["untrained_squared_error"],
            f"squared error {main['untrained_squared_error']:.4g} untrained, "
            f"{main['final_squared_error']:.4g} after {sizes['iterations']} iterations",
            run.quick),
        CLAIMS["samples"].judge(
            main["mean_top_probability"] >= 0.8 and main["excess_cross_entropy"] < 0.1,
            f"top-class probability {main['mean_top_probability']:.3f}; cross-entropy "
            f"{main['class_cross_entropy']:.3f} against entropy {main['real_entropy']:.3f} "
            f"nats (after {sizes['iterations']} iterations)", run.quick),
        CLAIMS["clusters"].judge(
            flat["knn_accuracy"] >= 0.8,
            f"5-NN accuracy {flat['knn_accuracy']:.3f} (pixels' first two principal "
            f"components: {flat['pixel_pca_knn_accuracy']:.3f})", run.quick),
    ]
    rows = [[int(iteration), error, mmd] for iteration, error, mmd in zip(
        main["iteration"], main["squared_error"], main["mmd"], strict=True)]
    tables = [
        Table("The z = 20 model over training", ["iteration", "test squared error per pixel",
                                                 "MMD^2(test codes, prior)"], rows),
        Table("Prior samples of the z = 20 model, judged by a classifier of the digits",
              ["samples", "mean top-class probability", "class cross-entropy (nats)",
               "real labels' entropy (nats)", "classifier Frechet distance",
               "classifier's test accuracy"],
              [[sizes["samples"], main["mean_top_probability"], main["class_cross_entropy"],
                main["real_entropy"], main["classifier_frechet_distance"],
                main["classifier_test_accuracy"]]],
              note="The Frechet distance is computed in the feature space of the package's "
                   "small MNIST classifier, not Inception's."),
        Table("The z = 2 model", ["5-NN accuracy of the codes",
                                  "5-NN accuracy of 2 principal components of the pixels"],
              [[flat["knn_accuracy"], flat["pixel_pca_knn_accuracy"]]]),
    ]
    prior = priors.get_prior("normal", 2)
    figures = {
        "training": (_curves_figure(main), "The test reconstruction error and the MMD "
                     "between the test codes and the prior over training (z = 20)."),
        "samples_over_training": (
            plotting.image_grid(main["sample_rows"].reshape(-1, *main["samples"].shape[1:]),
                                num_columns=SAMPLE_ROW,
                                title="the same 10 prior codes decoded, one row per record"),
            "The same 10 prior codes decoded at each record (rows: iterations "
            + ", ".join(str(int(i)) for i in main["iteration"]) + ")."),
        "samples": (plotting.image_grid(main["samples"], num_columns=10,
                                        title="MMD-VAE, z = 20: samples from the prior"),
                    "100 samples from the prior after training (z = 20)."),
        "latent_scatter": (plotting.latent_scatter(
            flat["codes"], test_labels, prior=prior, class_names=data.CLASS_NAMES["mnist"],
            title="MMD-VAE, z = 2: test codes by digit"),
            "The test codes of the z = 2 model by digit, over the prior's contours."),
        "morph_grid": (plotting.image_grid(flat["morph_images"], num_columns=15,
                                           title="z = 2: decoded prior quantiles 5%...95%"),
                       "The z = 2 model's decoding of a 15 x 15 grid of the prior's "
                       "quantiles."),
    }
    results = {
        "z20": {key: main[key] for key in (
            "untrained_squared_error", "final_squared_error", "final_mmd",
            "mean_top_probability", "class_cross_entropy", "real_entropy",
            "excess_cross_entropy", "classifier_frechet_distance", "classifier_test_accuracy",
            "seconds")},
        "z2": {key: flat[key] for key in ("knn_accuracy", "pixel_pca_knn_accuracy", "seconds")},
    }
    return Summary(results, verdicts, tables, figures, notes=[
        f"{sizes['iterations']} iterations here against the tutorial's 10,000: the claim on "
        f"samples is judged after {sizes['iterations'] / 10_000:.0%} of the tutorial's "
        "training.",
    ])


EXPERIMENT = Experiment(
    name="tutorial",
    title="InfoVAE tutorial: the MMD-VAE on MNIST",
    source="Zhao, Song and Ermon, A Tutorial on Information Maximizing Variational "
           "Autoencoders (InfoVAE), Ermon group blog, and its code",
    claim="the MMD-VAE (z = 20, batch 200, Adam 1e-3) trains fast to sensible samples; "
          "2-D codes cluster by digit",
    sizes=SIZES,
    full_minutes=4.5,
    quick_seconds=25.0,
    datasets=("mnist",),
    run=perform,
)
