"""``python -m mmdvae reproduce``: an experiment of the source documents against their claims."""

from pathlib import Path

from mmdvae.cli import arguments

HELP = "reproduce an experiment of the source documents and set it against their claims"
DESCRIPTION = ("Run an experiment of the source documents; DIR receives results.json, "
               "report.md (the paper's claims beside the measured numbers) and "
               "figures/*.png. `--list` shows the experiments.")


def add_arguments(parser) -> None:
    from mmdvae import experiments
    from mmdvae.experiments import runner

    parser.add_argument("name", nargs="?", metavar="NAME",
                        help=f"the experiment: {', '.join(experiments.EXPERIMENTS)}")
    parser.add_argument("--list", action="store_true",
                        help="list the experiments, their claims and expected times")
    parser.add_argument("--out", metavar="DIR", default=None, help="output directory")
    parser.add_argument("--scale", choices=runner.SCALES, default=None,
                        help="source: train as the source trained (the default; hours for "
                             "some); short: minutes; quick: seconds, too small to decide "
                             "most claims")
    parser.add_argument("--quick", action="store_true", help="the same as --scale quick")
    parser.add_argument("--seed", type=arguments.seed, default=0)
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in DIR, skipping its finished "
                             "phases")
    parser.add_argument("--phases", nargs="+", metavar="PATTERN", default=None,
                        help="compute only the unfinished phases matching these glob "
                             "patterns; runs with other phases may share DIR (with --resume), "
                             "and the run that finds every phase finished writes the report")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh in a non-empty DIR (never a finished run)")
    parser.add_argument("--data-dir", metavar="DIR", default=None,
                        help="directory of the IDX files (default: $MMDVAE_DATA_DIR, else "
                             "tensorflow-datasets)")
    parser.add_argument("--cache-dir", metavar="DIR", default=None,
                        help="where the image classifier is cached (default: "
                             "~/.cache/mmdvae)")


def run(args) -> int:
    """Runs ``reproduce``; mistakes exit with one ``error:`` line."""
    from mmdvae import experiments
    from mmdvae.experiments import runner

    names = ", ".join(experiments.EXPERIMENTS)
    if args.list:
        print(experiments.listing())
        return 0
    if args.name is None:
        raise SystemExit(f"error: reproduce needs an experiment NAME ({names}) or --list")
    if args.name not in experiments.EXPERIMENTS:
        raise SystemExit(f"error: unknown experiment {args.name!r}; choose one of {names} "
                         f"(--list describes them)")
    if args.out is None:
        raise SystemExit(f"error: reproduce {args.name} needs --out DIR")
    if args.resume and args.overwrite:
        raise SystemExit(f"error: pass either `resume` or `overwrite`, not both: --resume "
                         f"continues the run in {args.out}, --overwrite starts it afresh")
    if args.resume and not (Path(args.out) / runner.RUN_FILE).is_file():
        raise SystemExit(f"error: --resume needs an interrupted run in {args.out}; there is "
                         f"none (start the run without --resume)")
    try:
        outcome = experiments.run(
            args.name, Path(args.out), quick=args.quick, scale=args.scale, seed=args.seed,
            resume=args.resume, overwrite=args.overwrite, data_dir=args.data_dir,
            cache_dir=args.cache_dir, phases=args.phases)
    except experiments.ExperimentError as error:
        raise SystemExit(f"error: {error.command_line()}") from None
    if outcome.phases_left:
        print(f"{args.name}: {len(outcome.phases_left)} phase(s) left for other runs; the "
              f"report is written by a run (with --resume) that finds every phase finished")
        return 0
    states = [verdict.state for verdict in outcome.verdicts]
    print(f"{args.name}: {states.count('held')} claims held, {states.count('not held')} not "
          f"held, {states.count('not decided')} not decided; report in "
          f"{outcome.directory / 'report.md'}")
    return 0
