"""The papers' evaluation measures, as pure functions over a model and data.

Nothing here trains an autoencoder. Every function takes a trained model (any
``mmdvae.Autoencoder``) and arrays of images, or arrays of codes, and returns
numbers. Images get the same checks as ``fit`` (shape, floating point, finite,
the likelihood's range); codes must be finite. Random draws come from an
explicit integer ``seed``, so every measure repeats exactly. Sums that decide
the result (log-sum-exp of importance weights, kernel sums, covariances) are
taken in float64.

- ``likelihood``: ``log_likelihood`` (importance sampling),
  ``decoder_log_likelihood``, ``reconstruction_error``.
- ``latent``: ``full_data_mmd``, ``log_det_covariance``,
  ``mutual_information``, ``active_units``, ``latent_classification_accuracy``,
  ``corrupt`` and the encoding helpers.
- ``generated``: ``train_image_classifier``, ``generate``,
  ``class_cross_entropy``, ``classifier_frechet_distance``.
- ``report``: ``evaluate``, driven by the table ``MEASURES``;
  ``select_metrics``, ``unavailable_reason``, ``flatten``.

The definitions are those of the InfoVAE paper (Zhao, Song and Ermon, AAAI 2019)
and the VIMAE paper (Crescimanna and Graham); ``OBJECTIVES.md`` restates them.

Example:

```python
from mmdvae import evaluation

estimate = evaluation.log_likelihood(model, test_images[:100], num_samples=1000)
codes = evaluation.encode_dataset(model, test_images, seed=1)
mmd = evaluation.full_data_mmd(codes, evaluation.prior_samples(model, len(codes)))
results = evaluation.evaluate(model, test_images, test_labels)
```
"""

from mmdvae.evaluation.generated import (
    DEFAULT_CACHE_DIR,
    class_cross_entropy,
    classifier_frechet_distance,
    classifier_outputs,
    frechet_distance,
    generate,
    train_image_classifier,
)
from mmdvae.evaluation.latent import (
    CLASSIFIERS,
    CORRUPTIONS,
    MMD_BLOCK_SIZE,
    active_units,
    code_classification_accuracy,
    corrupt,
    encode_dataset,
    full_data_mmd,
    latent_classification_accuracy,
    log_det_covariance,
    mutual_information,
    posterior_parameters,
    prior_samples,
)
from mmdvae.evaluation.likelihood import (
    PROPOSALS,
    LogLikelihood,
    decoder_log_likelihood,
    log_likelihood,
    reconstruction_error,
)
from mmdvae.evaluation.report import (
    MEASURES,
    METRICS,
    Measure,
    evaluate,
    flatten,
    model_kernel,
    select_metrics,
    unavailable_reason,
)

__all__ = [
    "CLASSIFIERS", "CORRUPTIONS", "DEFAULT_CACHE_DIR", "MEASURES", "METRICS",
    "MMD_BLOCK_SIZE", "PROPOSALS",
    "LogLikelihood", "Measure",
    "active_units", "class_cross_entropy", "classifier_frechet_distance",
    "classifier_outputs", "code_classification_accuracy", "corrupt",
    "decoder_log_likelihood", "encode_dataset", "evaluate", "flatten", "frechet_distance",
    "full_data_mmd", "generate", "latent_classification_accuracy", "log_det_covariance",
    "log_likelihood", "model_kernel", "mutual_information", "posterior_parameters",
    "prior_samples", "reconstruction_error", "select_metrics", "train_image_classifier",
    "unavailable_reason",
]
