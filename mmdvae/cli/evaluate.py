"""``python -m mmdvae evaluate``: the papers' measures of a trained model, as a table and JSON."""

import math
import sys
from pathlib import Path

from mmdvae import outputs
from mmdvae.cli import arguments, paths
from mmdvae.cli.arguments import one_line

HELP = "measure a trained model (log-likelihood, MMD, classifiers, ...)"
DESCRIPTION = ("Compute the papers' measures of a trained model on a test set, print them as "
               "a table and write them to a JSON file.")


def add_arguments(parser) -> None:
    parser.add_argument("model_path", metavar="MODEL_PATH",
                        help="a .keras file or a run directory holding model.keras")
    parser.add_argument("--dataset", default=None, metavar="NAME",
                        help="the test set (default: the one the run trained on, else mnist)")
    parser.add_argument("--metrics", nargs="+", choices=arguments.METRICS, default=None,
                        help="measures to compute (default: every one the model allows)")
    parser.add_argument("--out", required=True, metavar="FILE.json")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow replacing an existing --out file")
    parser.add_argument("--data-dir", metavar="DIR", default=None)
    parser.add_argument("--test-size", type=arguments.positive_int, default=None,
                        help="use the first N test images (default: all)")
    parser.add_argument("--log-likelihood-images", type=arguments.positive_int, default=100,
                        help="test images whose log-likelihood is estimated")
    parser.add_argument("--importance-samples", type=arguments.positive_int, default=1000,
                        help="K of the encoder-proposal log-likelihood")
    parser.add_argument("--prior-samples", type=arguments.positive_int, default=50_000,
                        help="K of the prior-proposal log-likelihood")
    parser.add_argument("--num-generated", type=arguments.positive_int, default=10_000,
                        help="prior samples scored by the image classifier")
    parser.add_argument("--num-labelled", type=arguments.positive_int, nargs="+",
                        default=[100, 1000], help="labelled codes of the latent accuracy")
    parser.add_argument("--latent-classifier", choices=arguments.CLASSIFIERS, default="knn")
    parser.add_argument("--noise-std", type=arguments.number(0.0), nargs="*", default=[],
                        help="Gaussian input noise levels of the latent accuracy")
    parser.add_argument("--mask-fraction", type=arguments.number(0.0), nargs="*", default=[],
                        help="masked pixel fractions (in [0, 1]) of the latent accuracy")
    parser.add_argument("--kernel", choices=arguments.KERNELS, default=None,
                        help="MMD kernel (default: the model's own, else tutorial)")
    parser.add_argument("--mse-variance", type=arguments.number(0.0, strict=True), default=None,
                        help="decoder variance assumed for log p(x) of an mse model")
    parser.add_argument("--cache-dir", default=None,
                        help="image classifier cache (default: ~/.cache/mmdvae)")
    parser.add_argument("--classifier-epochs", type=arguments.positive_int, default=2)
    parser.add_argument("--classifier-train-size", type=arguments.positive_int, default=None)
    parser.add_argument("--seed", type=arguments.integer(0), default=0)


def trained_data(model_path: Path) -> dict:
    """The dataset and image size the model of a ``train`` run directory was trained on.

    ``train`` records its arguments in the run's ``run.json``; a model file
    outside a run directory has no record (an empty dict).
    """
    try:
        record = outputs.read_record(model_path.parent) or {}
    except outputs.OutputError:
        record = {}
    if record.get("command") != "train":
        return {}
    image_size = record.get("image_size")
    return {"dataset": record.get("dataset"),
            "image_size": None if image_size is None else tuple(image_size)}


def run(args) -> int:
    model_file = paths.model_file(Path(args.model_path))
    out = Path(args.out)
    paths.check_output_file(out, args.overwrite, paths.run_files(model_file))
    bad_fractions = [level for level in args.mask_fraction if level > 1]
    if bad_fractions:
        raise SystemExit(f"error: --mask-fraction {bad_fractions[0]} must be in [0, 1]")
    trained = trained_data(model_file)
    trained_on = trained.get("dataset")
    dataset = args.dataset or trained_on or "mnist"
    image_size = trained.get("image_size")
    if trained_on and dataset != trained_on:
        print(f"warning: the model was trained on {trained_on}; evaluating it on "
              f"{dataset}", file=sys.stderr)

    from mmdvae import data, evaluation, files

    model = paths.load_model(model_file)
    try:
        expected = data.info(dataset, image_size=image_size).image_shape
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: --dataset {dataset}: {one_line(error)}") from None
    if tuple(model.image_shape) != tuple(expected):
        raise SystemExit(f"error: the model's image_shape={model.image_shape} does not "
                         f"match {dataset}'s {expected}")
    if args.mse_variance is not None and not model.likelihood.needs_variance:
        raise SystemExit(f"error: --mse-variance {args.mse_variance} applies to models with "
                         f"the mse likelihood only; this model's is {model.likelihood.name!r}")
    sample_measures = {"class_cross_entropy", "classifier_frechet_distance"}
    try:
        chosen, _ = evaluation.select_metrics(model, args.metrics, True, args.mse_variance)
        # Refused before the data are read and the classifier trained.
        num_images = min(args.log_likelihood_images, args.test_size or math.inf)
        for metric, flag, proposal in (
                ("log_likelihood", "--importance-samples", "posterior"),
                ("prior_log_likelihood", "--prior-samples", "prior")):
            if metric in chosen:
                evaluation.likelihood.check_log_likelihood_size(
                    model, num_images, getattr(args, flag[2:].replace("-", "_")), proposal,
                    argument=flag)
        if sample_measures & set(chosen):
            evaluation.generated.check_generated_size(model, args.num_generated,
                                                      "--num-generated")
        test_images, test_labels = data.load_arrays(dataset, "test", with_labels=True,
                                                    data_dir=args.data_dir,
                                                    image_size=image_size)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: {one_line(error)}") from None
    test_images, test_labels = test_images[: args.test_size], test_labels[: args.test_size]
    train_images = train_labels = None
    if "latent_accuracy" in chosen:
        train_images, train_labels = data.load_arrays(
            dataset, "train", with_labels=True, data_dir=args.data_dir, image_size=image_size)
    classifier, classifier_info = None, None
    if sample_measures & set(chosen):
        classifier, classifier_info = evaluation.train_image_classifier(
            dataset, data_dir=args.data_dir, cache_dir=args.cache_dir,
            epochs=args.classifier_epochs, train_size=args.classifier_train_size)
    corruptions = [("gaussian", level) for level in args.noise_std] + [
        ("mask", level) for level in args.mask_fraction]
    try:
        results = evaluation.evaluate(
            model, test_images, test_labels, train_images, train_labels,
            metrics=args.metrics, image_classifier=classifier,
            log_likelihood_images=args.log_likelihood_images,
            importance_samples=args.importance_samples,
            prior_proposal_samples=args.prior_samples, num_generated=args.num_generated,
            num_labelled=args.num_labelled, latent_classifier=args.latent_classifier,
            corruptions=corruptions, kernel=args.kernel, mse_variance=args.mse_variance,
            seed=args.seed)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: {one_line(error)}") from None
    record = {
        "model": str(model_file), "model_class": type(model).__name__,
        "latent_dim": model.latent_dim, "dataset": dataset,
        "num_test_images": len(test_images), "image_classifier": classifier_info,
        "arguments": {k: v for k, v in vars(args).items() if k != "command"},
        "metrics": results,
    }
    paths.write_output(out, lambda: files.write_json(out, record))
    print(f"{type(model).__name__} (latent_dim={model.latent_dim}) on {dataset} "
          f"test, {len(test_images)} images")
    table = {key: value for key, value in evaluation.flatten(results).items()
             if not key.startswith("seconds.")}
    width = max(map(len, table), default=10)
    for key, value in table.items():
        print(f"  {key:<{width}}  {value:.6g}")
    for metric, reason in results["skipped"].items():
        print(f"  {metric:<{width}}  skipped: {reason}")
    print(f"wrote {out}")
    return 0
