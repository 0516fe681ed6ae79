"""``python -m mmdvae compare``: evaluated runs side by side in a Markdown report."""

import json
import os
from pathlib import Path

from mmdvae.cli import arguments, paths
from mmdvae.cli.arguments import one_line

HELP = "put several evaluated runs side by side in a Markdown report"
DESCRIPTION = ("Each RUN_DIR must hold evaluation.json (from `evaluate --out "
               "RUN_DIR/evaluation.json`); its figures (*.png) are linked in the report.")


def add_arguments(parser) -> None:
    parser.add_argument("run_dirs", metavar="RUN_DIR", nargs="+")
    parser.add_argument("--out", required=True, metavar="REPORT.md")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument(
        "--two-sample", type=arguments.integer(0), default=0, metavar="N",
        help="also test whether each pair of runs' code distributions q(z) are equal: an "
        "MMD permutation test (RBF kernel, median bandwidth) on one draw of q(z|x) for each "
        "of the first N test images (default 0: off; the runs need model.keras and the "
        "same latent size)")
    parser.add_argument("--data-dir", metavar="DIR", default=None)
    parser.add_argument("--seed", type=arguments.integer(0), default=0)


def _read_evaluation(directory: Path) -> dict:
    path = directory / "evaluation.json"
    if not path.is_file():
        raise SystemExit(
            f"error: {directory} holds no evaluation.json; run `python -m mmdvae "
            f"evaluate {directory} --out {path}` first")
    try:
        record = json.loads(path.read_text())
    except ValueError as error:
        raise SystemExit(f"error: {path} is corrupt (not readable JSON: {error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
        raise SystemExit(f"error: {path} has no \"metrics\" table; write it with "
                         f"`python -m mmdvae evaluate {directory} --out {path}`")
    return record


def _two_sample_lines(runs, names, args) -> list:
    """The Markdown table of MMD permutation tests between each pair of runs' codes."""
    from mmdvae import data, evaluation, kernels

    datasets = {record.get("dataset", "mnist") for _, record in runs}
    if len(datasets) > 1:
        raise SystemExit(f"error: --two-sample needs runs evaluated on one dataset; "
                         f"received {sorted(datasets)}")
    models = [paths.load_model(paths.model_file(directory)) for directory, _ in runs]
    sizes = {model.latent_dim for model in models}
    if len(sizes) > 1:
        raise SystemExit(f"error: --two-sample needs runs of one latent size; received "
                         f"latent sizes {sorted(sizes)}")
    try:
        images = data.load_arrays(datasets.pop(), "test", data_dir=args.data_dir)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: {one_line(error)}") from None
    images = images[: args.two_sample]
    codes = [evaluation.encode_dataset(model, images, sample=True, seed=args.seed)
             for model in models]
    lines = ["", f"## Do the code distributions differ? (MMD permutation test, "
             f"{len(images)} test images, RBF kernel with the median bandwidth, "
             f"1000 permutations)", "", "| runs | MMD^2 | p-value |", "| --- | --- | --- |"]
    for first in range(len(models)):
        for second in range(first + 1, len(models)):
            try:
                result = kernels.mmd_test(codes[first], codes[second], seed=args.seed)
            except (TypeError, ValueError) as error:
                raise SystemExit(f"error: --two-sample {args.two_sample}: {names[first]} vs "
                                 f"{names[second]}: {one_line(error)}") from None
            lines.append(f"| {names[first]} vs {names[second]} | {result.statistic:.4g} | "
                         f"{result.p_value:.4g} |")
    return lines


def run(args) -> int:
    from mmdvae import evaluation, files

    out = Path(args.out)
    if args.two_sample == 1:
        raise SystemExit("error: --two-sample 1 is too few: the permutation test needs at "
                         "least 2 codes of each run (pass 0 to leave it off)")
    inputs = [pair for directory in map(Path, args.run_dirs) for pair in [
        (directory / "evaluation.json", "the evaluation of a compared run"),
        *paths.run_files(directory / "model.keras")]]
    paths.check_output_file(out, args.overwrite, inputs)
    runs = [(directory, _read_evaluation(directory)) for directory in map(Path, args.run_dirs)]
    names = [directory.name or str(directory) for directory, _ in runs]
    if len(set(names)) < len(names):
        names = [str(directory) for directory, _ in runs]
    tables = [{key: value for key, value in evaluation.flatten(record["metrics"]).items()
               if not key.startswith("seconds.")} for _, record in runs]
    keys = list(dict.fromkeys(key for table in tables for key in table))
    lines = ["# Model comparison", "",
             "| metric | " + " | ".join(names) + " |",
             "| --- |" + " --- |" * len(names)]
    for label, key in (("model", "model_class"), ("latent_dim", "latent_dim"),
                       ("dataset", "dataset"), ("test images", "num_test_images")):
        lines.append(f"| {label} | " + " | ".join(str(record.get(key, ""))
                                                  for _, record in runs) + " |")
    for key in keys:
        cells = [f"{table[key]:.6g}" if key in table else "-" for table in tables]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    for name, (_, record) in zip(names, runs, strict=True):
        for metric, reason in record["metrics"].get("skipped", {}).items():
            lines.append(f"\n{name}: {metric} skipped ({reason}).")
    if args.two_sample:
        lines += _two_sample_lines(runs, names, args)
    lines += ["", "## Figures", ""]
    for name, (directory, _) in zip(names, runs, strict=True):
        figures = sorted(directory.glob("*.png"))
        if figures:
            lines += [f"### {name}", ""]
            lines += [f"![{name} {figure.stem}]"
                      f"({Path(os.path.relpath(figure.resolve(), out.resolve().parent))})"
                      for figure in figures]
            lines.append("")
    paths.write_output(out, lambda: files.write_text(out, "\n".join(lines) + "\n"))
    print(f"compared {len(runs)} runs; wrote {out}")
    return 0
