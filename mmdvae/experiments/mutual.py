"""The Mutual Autoencoder poster's two toys: a VAE ignores z, the MutualAE keeps I(z, x) = M.

Phuong, Kushman, Nowozin, Tomioka and Welling, "The Mutual Autoencoder:
Controlling Information in Latent Code Representations" (2018 poster), sections
"MAE, categorical example" (figure 5) and "Splitting the normal" (figure 6):

- ``digits``: ``x`` uniform on ``{0, ..., 9}`` (one-hot), a 1-D code, a softmax
  decoder (``likelihood="categorical"``);
- ``normal``: ``x ~ N(0, 1)``, a 1-D code, a Gaussian decoder
  (``likelihood="unbounded_gaussian"``): "the model has to learn to represent a
  normal as an infinite mixture of normals"; "a trivial solution ignoring z
  exists and is recovered by VAEs".

Models (``registry.get("mutual")``, ``network="mlp"``: three dense layers of 200
units where the poster has two): the VAE (``penalty_weight=0``: the plain ELBO)
and the MutualAE with the constraint ``I_p(z, x) = M`` for each ``M`` of
``informations`` (penalty weight 10).

Measured after training, for each model: ``I_p(z, x)`` of its generative model
``p(z) p(x|z)`` computed from the decoder alone (independent of the inference
network ``r(z|x)`` the MutualAE trains with),

```
I_p(z, x) = E_p(z) KL(p(x|z) || p(x)),     p(x) = E_p(z) p(x|z)
```

with ``E_p(z)`` a quadrature over ``quadrature_points`` codes in ``[-8, 8]``
(weights of the prior's density); for the digits the KL is a sum over the ten
values, for the normal toy a Monte Carlo mean of ``log p(x|z) - log p(x)`` over
``20,000`` draws ``z ~ p(z)``, ``x ~ p(x|z)``. Also the variational bound
``I_hat = H(z) + E log r(z|x)`` the MutualAE constrains (a lower bound of
``I_p``), on 20,000 prior draws. Figures in the poster's style: ``p(x|z)``
against ``z`` for each model.

Sizes: the full run trains 8 models (two toys, the VAE and ``M`` in
``{0.5, 1, 1.5}``), each 30 epochs of 10,000 examples at batch 100 (3,000 steps;
about 190 steps per second on the digits and 80 on the normal toy), about 2.5
minutes on 2 CPU cores (measured: 133 s); the quick run 4 models (the VAE and ``M = 1``), each 3
epochs, about 20 seconds.
"""

import keras
import numpy as np
import tensorflow as tf
from matplotlib import colormaps
from scipy.special import logsumexp

from mmdvae import plotting
from mmdvae.experiments.runner import Claim, Experiment, Summary, Table
from mmdvae.models import registry

SIZES = {
    "full": {"num_examples": 10_000, "epochs": 30, "informations": (0.5, 1.0, 1.5)},
    "quick": {"num_examples": 10_000, "epochs": 3, "informations": (1.0,)},
}
TOYS = ("digits", "normal")
TOY_TITLES = {"digits": "x uniform on {0..9}", "normal": "splitting the normal"}
BATCH_SIZE = 100
PENALTY_WEIGHT = 10.0
#: Tolerance of the information the MutualAE keeps, nats.
TOLERANCE = 0.25

CLAIMS = {
    ("vae", "digits"): Claim(
        "VAEs fail to learn a representation when an expressive model class is used "
        "(categorical toy)",
        "poster: summary; MAE, categorical example, figure 5",
        f"the VAE's I_p(z, x) < {TOLERANCE} nats",
        quick_decides=True,
    ),
    ("vae", "normal"): Claim(
        "A trivial solution ignoring z exists and is recovered by VAEs (splitting the normal)",
        "poster: splitting the normal, figure 6",
        f"the VAE's I_p(z, x) < {TOLERANCE} nats",
        quick_decides=True,
    ),
    ("mae", "digits"): Claim(
        "The MAE learns a useful representation even if a trivial solution exists "
        "(categorical toy)",
        "poster: summary; MAE, categorical example, figure 5",
        f"every MutualAE's I_p(z, x) within {TOLERANCE} nats of its M",
        quick_decides=False,
    ),
    ("mae", "normal"): Claim(
        "MAEs obtain an informative representation when splitting the normal",
        "poster: splitting the normal, figure 6",
        f"every MutualAE's I_p(z, x) within {TOLERANCE} nats of its M",
        quick_decides=False,
    ),
}


# === Data and models ===


def make_data(toy: str, num_examples: int, seed: int) -> np.ndarray:
    """The toy's training data: one-hot digits ``[n, 10]`` or normal values ``[n, 1]``."""
    generator = np.random.default_rng(seed)
    if toy == "digits":
        return np.eye(10, dtype=np.float32)[generator.integers(0, 10, size=num_examples)]
    return generator.standard_normal((num_examples, 1)).astype(np.float32)


def build(toy: str, information: float, penalty_weight: float, seed: int):
    """A MutualAE for the toy: 1-D code, mlp networks, the toy's likelihood."""
    if toy == "digits":
        shape, likelihood = (10,), "categorical"
    else:
        shape, likelihood = (1,), "unbounded_gaussian"
    return registry.get("mutual").build(
        1, image_shape=shape, network="mlp", likelihood=likelihood, information=information,
        penalty_weight=penalty_weight, seed=seed)


def train(model, data, epochs: int, seed: int, verbose=0):
    """Adam(1e-3), batches of 100 in a shuffled order fixed by ``seed``."""
    # Tiny networks: XLA's compilation would take longer than the steps it speeds up.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    batches = tf.data.Dataset.from_tensor_slices(data).shuffle(
        len(data), seed=seed).batch(BATCH_SIZE)
    return model.fit(batches, epochs=epochs, verbose=verbose)


# === The information of the generative model ===


def quadrature(num_points: int = 4001):
    """Codes on ``[-8, 8]`` and their weights under the standard normal prior."""
    codes = np.linspace(-8.0, 8.0, num_points)
    weights = np.exp(-0.5 * codes**2)
    return codes, weights / weights.sum()


def decoder_distributions(model, codes):
    """The decoder's ``p(x|z)`` at ``codes``: probabilities ``[n, 10]``, or (means, stds)."""
    outputs = model.decoder(tf.constant(codes[:, None], tf.float32), training=False)
    if model.likelihood.name == "categorical":
        return np.asarray(model.likelihood.mean(outputs), np.float64)
    mean, std = model.likelihood.mean_and_std(outputs)
    return np.asarray(mean, np.float64)[:, 0], np.asarray(std, np.float64)[:, 0]


def _normal_log_density(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)


def categorical_information(probabilities_of, num_points: int = 4001) -> float:
    """``I(z, x) = sum_j w_j KL(p(x|z_j) || p(x))`` for a categorical ``x``, in nats.

    ``probabilities_of(codes)`` gives ``p(x|z)`` ``[n, categories]`` at 1-D
    ``codes``; ``w_j`` are the weights of ``quadrature(num_points)``.
    """
    codes, weights = quadrature(num_points)
    probabilities = np.clip(np.asarray(probabilities_of(codes), np.float64), 1e-300, 1.0)
    marginal = weights @ probabilities
    kl = np.sum(probabilities * (np.log(probabilities) - np.log(marginal)), axis=1)
    return float(weights @ kl)


def gaussian_information(mean_and_std_of, num_points: int = 4001, num_draws: int = 20_000,
                         seed: int = 0) -> float:
    """``I(z, x)`` for ``x ~ N(mean(z), std(z)^2)``, ``z ~ N(0, 1)``, in nats.

    The mean of ``log p(x|z) - log p(x)`` over ``num_draws`` draws of ``(z, x)``,
    with ``p(x)`` the mixture of the decoder's Gaussians over the quadrature.
    ``mean_and_std_of(codes)`` gives two ``[n]`` arrays.
    """
    codes, weights = quadrature(num_points)
    means, stds = mean_and_std_of(codes)
    generator = np.random.default_rng(seed)
    z = generator.standard_normal(num_draws)
    z_means, z_stds = mean_and_std_of(z)
    x = z_means + z_stds * generator.standard_normal(num_draws)
    log_conditional = _normal_log_density(x, z_means, z_stds)
    log_marginal = np.concatenate([
        logsumexp(np.log(weights) + _normal_log_density(x[start:start + 1000, None], means,
                                                        stds), axis=1)
        for start in range(0, num_draws, 1000)])
    return float(np.mean(log_conditional - log_marginal))


def exact_information(model) -> float:
    """``I_p(z, x)`` in nats of a 1-D-code model's decoder under the standard normal prior."""
    if model.likelihood.name == "categorical":
        return categorical_information(lambda codes: decoder_distributions(model, codes))
    return gaussian_information(lambda codes: decoder_distributions(model, codes))


def information_bound(model, num_draws: int = 20_000, seed: int = 7) -> float:
    """The MutualAE's ``I_hat = H(z) + E log r(z|x)`` on ``num_draws`` prior draws."""
    prior_z = model.prior_samples(num_draws, seed=tf.constant([seed, 0]))
    return float(model.information_bound(prior_z, model.decoder_samples(prior_z)))


def train_toy(toy: str, information: float, penalty_weight: float, num_examples: int,
              epochs: int, seed: int, verbose=0) -> dict:
    """Trains one model on one toy; returns its information and its decoder on a grid."""
    keras.utils.set_random_seed(seed)
    model = build(toy, information, penalty_weight, seed)
    history = train(model, make_data(toy, num_examples, seed), epochs, seed, verbose)
    grid = np.linspace(-3.0, 3.0, 121)
    decoder = decoder_distributions(model, grid)
    result = {
        "information": exact_information(model),
        "information_bound": information_bound(model),
        "final_loss": float(history.history["loss"][-1]),
        "grid": grid,
    }
    if toy == "digits":
        result["probabilities"] = decoder
    else:
        result["means"], result["stds"] = decoder
    return result


# === The experiment ===


def _models(informations):
    """(phase label, target M or None for the VAE, penalty weight)."""
    return [("vae", None, 0.0)] + [(f"mae_{value:g}", value, PENALTY_WEIGHT)
                                   for value in informations]


def _label(target):
    return "VAE" if target is None else f"MutualAE, M = {target:g}"


def _decoder_figure(records, models):
    figure = plotting.StandaloneFigure(figsize=(12, 2.3 * len(models)), layout="tight")
    grid = figure.subplots(len(models), 2, squeeze=False)
    x = np.linspace(-4.0, 4.0, 401)
    for row, (label, target, _) in enumerate(models):
        digits, normal = records["digits", label], records["normal", label]
        axes = grid[row, 0]
        axes.imshow(digits["probabilities"].T, aspect="auto", origin="lower", cmap="viridis",
                    extent=(digits["grid"][0], digits["grid"][-1], -0.5, 9.5), vmin=0, vmax=1)
        axes.set(ylabel="x", title=f"{_label(target)}: p(x|z), I = "
                 f"{digits['information']:.2f} nats", xlabel="z")
        axes = grid[row, 1]
        chosen = np.linspace(0, len(normal["grid"]) - 1, 15).astype(int)
        for index in chosen:
            z, mean, std = normal["grid"][index], normal["means"][index], normal["stds"][index]
            prior = np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
            axes.plot(x, prior * np.exp(_normal_log_density(x, mean, std)),
                      color=colormaps["coolwarm"](index / len(normal["grid"])))
        axes.set(xlabel="x", title=f"{_label(target)}: p(x|z) p(z) for 15 z in [-3, 3], "
                 f"I = {normal['information']:.2f} nats")
    return figure


def _information_figure(records, models):
    figure = plotting.StandaloneFigure(figsize=(6, 4.5), layout="tight")
    axes = figure.add_subplot()
    targets = [target for _, target, _ in models if target is not None]
    top = max(targets + [1.0]) * 1.2
    axes.plot([0, top], [0, top], color="grey", linestyle=":", label="I = M")
    for toy, marker in zip(TOYS, ("o", "s"), strict=True):
        for label, target, _ in models:
            record = records[toy, label]
            position = 0.0 if target is None else target
            axes.scatter([position], [record["information"]], marker=marker,
                         color="C0" if toy == "digits" else "C1")
            axes.scatter([position], [record["information_bound"]], marker=marker,
                         facecolors="none", edgecolors="C0" if toy == "digits" else "C1")
        axes.scatter([], [], marker=marker, color="C0" if toy == "digits" else "C1",
                     label=f"{TOY_TITLES[toy]}: I_p(z, x)")
        axes.scatter([], [], marker=marker, facecolors="none",
                     edgecolors="C0" if toy == "digits" else "C1",
                     label=f"{TOY_TITLES[toy]}: bound I_hat")
    axes.set(xlabel="constraint M, nats (the VAE at 0: no constraint)",
             ylabel="information, nats", title="I(z, x) against the constraint M")
    axes.legend(fontsize="x-small")
    return figure


def perform(run) -> Summary:
    sizes = run.sizes
    models = _models(sizes["informations"])
    records = {}
    for toy in TOYS:
        for label, target, penalty in models:
            phase = f"{toy}_{label}"
            records[toy, label] = run.phase(phase, lambda toy=toy, target=target,
                                            penalty=penalty, phase=phase: train_toy(
                toy, 1.0 if target is None else target, penalty, sizes["num_examples"],
                sizes["epochs"], run.seed_for(phase), run.verbose))
    verdicts, rows = [], []
    for toy in TOYS:
        vae = records[toy, "vae"]["information"]
        verdicts.append(CLAIMS["vae", toy].judge(
            vae < TOLERANCE, f"VAE: I_p = {vae:.3f} nats", run.quick))
        maes = [(target, records[toy, label]["information"])
                for label, target, _ in models if target is not None]
        verdicts.append(CLAIMS["mae", toy].judge(
            all(abs(value - target) <= TOLERANCE for target, value in maes),
            "; ".join(f"M = {target:g}: I_p = {value:.3f}" for target, value in maes),
            run.quick))
        for label, target, _ in models:
            record = records[toy, label]
            rows.append([TOY_TITLES[toy], _label(target), "-" if target is None else target,
                         record["information"], record["information_bound"],
                         record["final_loss"]])
    table = Table("Information of each trained model", [
        "toy", "model", "M (nats)", "I_p(z, x) (nats)", "bound I_hat (nats)",
        "final training loss"], rows,
        note="I_p(z, x) from the decoder by quadrature over z; I_hat, the MutualAE's "
             "variational lower bound, from its inference network r(z|x). H(x) of the digits "
             "is log 10 = 2.30 nats.")
    results = {f"{toy}/{label}": {key: records[toy, label][key] for key in (
        "information", "information_bound", "final_loss", "seconds")}
        for toy in TOYS for label, _, _ in models}
    figures = {
        "decoders": (_decoder_figure(records, models),
                     "The poster's figures 5 and 6: left, p(x|z) of the categorical toy against "
                     "z (each row a model); right, p(x|z) p(z) of the normal toy for 15 codes "
                     "z (blue to red: z from -3 to 3). A decoder that ignores z draws the same "
                     "column everywhere (left) and one curve (right)."),
        "information": (_information_figure(records, models),
                        "I_p(z, x) (filled) and the MutualAE's bound I_hat (open) against the "
                        "constraint M; the dotted line is I = M."),
    }
    notes = [
        "The MutualAE's bound I_hat on the categorical toy is computed on Gumbel-softmax "
        "relaxed samples x (temperature 0.5), a continuous channel that carries more about z "
        "than the discrete x does: there I_hat can exceed the discrete I_p(z, x), which the "
        "claims are judged on.",
    ]
    return Summary(results, verdicts, [table], figures, notes)


EXPERIMENT = Experiment(
    name="mutual",
    title="Mutual Autoencoder poster: the VAE ignores z, the MutualAE keeps I(z, x) = M",
    source="Phuong, Kushman, Nowozin, Tomioka and Welling, The Mutual Autoencoder (2018 "
           "poster): the categorical example (figure 5) and splitting the normal (figure 6)",
    claim="on two toys a VAE leaves I(z, x) near 0 while the MutualAE holds it at M",
    sizes=SIZES,
    full_minutes=2.5,
    quick_seconds=20.0,
    datasets=(),
    run=perform,
)
