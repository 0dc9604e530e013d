"""The one entry point: ``python -m pipeline COMMAND [ARGS]``. ``--help`` lists the commands.

    $ python3 -m pipeline fetch                 # a stage, as dvc.yaml runs it
    fetch: source .../sklearn/datasets/data/digits.csv.gz sha256 09f66e6d... ok
    $ python -m pipeline diff tinydigits@v1.0.0 tinydigits@v1.1.0

The environment check (:mod:`pipeline.core.environment`) needs only the standard library and runs
before any command's module, and so NumPy, is imported: a wrong or missing package gets one
message naming it, and nothing is written. Then the command runs through
:func:`pipeline.core.runner.run`: a known error is one line and exit 1, Ctrl-C one line and exit 130.
"""

# loaded by Python itself; everything else is imported inside main(), where Ctrl-C is caught
import sys

# name: (module whose main() runs it, what it does). The stages take no arguments.
STAGES = {
    "params": ("pipeline.core.params", "check the whole params.yaml and print the counts"),
    "fetch": ("pipeline.fetch", "check the source file and write its arrays"),
    "sample": ("pipeline.sample", "draw the per-digit train and test images"),
    "normalize": ("pipeline.normalize", "scale pixels to float32 k/16"),
    "split": ("pipeline.split", "order each split and check it"),
    "pickle": ("pipeline.pickling", "write the published files"),
    "benchmark_sweep": ("pipeline.benchmark.sweep", "train the baseline at every sweep count"),
    "benchmark": ("pipeline.benchmark.stage", "gate the accuracy; write the card and reports"),
}
TOOLS = {
    "load": ("pipeline.loader.reader", "load every published split and check it [DIR]"),
    "diff": ("pipeline.release.diff", "compare two revisions image by image [A [B]] (--help)"),
    "review": ("pipeline.release.review", "the pull-request data review against BASE (Markdown)"),
    "release": ("pipeline.release.cut", "record, commit and tag a release VERSION (--help)"),
    "tags": ("pipeline.release.tags", "tag every recorded release at its recording commit"),
}
COMMANDS = {**STAGES, **TOOLS}


def usage() -> str:
    lines = ["usage: python -m pipeline COMMAND [ARGS]", "", "stages (dvc.yaml runs them):"]
    lines += [f"  {name:<16}{text}" for name, (_, text) in STAGES.items()]
    lines += ["", "tools:"]
    lines += [f"  {name:<16}{text}" for name, (_, text) in TOOLS.items()]
    return "\n".join(lines)


def stage_usage(name):
    """A stage's ``--help``: what it does, and that dvc runs it."""
    import textwrap

    what = STAGES[name][1]
    text = (
        "%s%s. A stage of dvc.yaml: it takes no arguments (its settings are in params.yaml), and"
        " `dvc repro` runs it when its inputs change (docs/pipeline.md)."
        % (what[0].upper(), what[1:])
    )
    return "usage: python -m pipeline %s\n\n%s" % (name, textwrap.fill(text, 79))


def early_hint(name):
    """What Ctrl-C before ``name``'s own code has begun leaves to do: a stage is DVC's to rerun; a
    tool, or a command that does not exist, has changed nothing."""
    from pipeline.core.errors import INTERRUPTED, UNCHANGED

    return INTERRUPTED if name in STAGES else UNCHANGED


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, args = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            "python -m pipeline: error: unknown command %r; one of: %s"
            % (name, ", ".join(COMMANDS)),
            file=sys.stderr,
        )
        return 2
    if name in STAGES and args in (["-h"], ["--help"]):
        print(stage_usage(name))
        return 0
    if name in STAGES and args:
        print(
            "%s: error: a stage takes no arguments (its settings are in params.yaml), got %s"
            % (name, " ".join(args)),
            file=sys.stderr,
        )
        return 2
    # The check first: the runner below uses syntax that the oldest Pythons it refuses cannot parse.
    import os

    from pipeline.core import environment
    from pipeline.core.errors import EnvironmentMismatch

    # set when another Python handed this command over to this one
    handed_over = os.environ.pop(environment.HANDED_OVER, None)
    try:
        environment.check()
    except EnvironmentMismatch as err:
        python = None if handed_over else environment.project_python()
        if python is not None:
            # .venv/bin/dvc run without activating .venv: its shell found another python3 first
            print(
                "%s: %s is not the pinned environment; running with this project's .venv/bin/python"
                " (activate .venv to run it directly)" % (name, sys.executable),
                file=sys.stderr,
            )
            failed = environment.hand_over(python, argv)
            print("%s: error: cannot start %s: %s" % (name, python, failed), file=sys.stderr)
        print("%s: error: %s" % (name, err), file=sys.stderr)
        return 1
    import importlib

    from pipeline.core.runner import INTERRUPTED, Interrupted, catch_ctrl_c, interrupted, run

    try:
        catch_ctrl_c()
        # Ctrl-C while NumPy and the module load ends here in one line too (the runner takes over after)
        module = importlib.import_module(COMMANDS[name][0])
    except (Interrupted, KeyboardInterrupt):
        return interrupted(name, early_hint(name))
    # its outputs are DVC's to finish
    if name in STAGES:
        return run(name, module.main, hint=INTERRUPTED)
    # each tool says what it leaves (tests/test_interrupt_edges.py checks every one)
    return run(name, lambda: module.main(args), hint=module.INTERRUPTED_HINT)


if __name__ == "__main__":
    try:
        status = main(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader stopped early (`python -m pipeline diff | head`): nothing went wrong here, and
        # Python's own flush at exit must not fail on the closed pipe either
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    except BaseException as err:
        # Ctrl-C before main() had its own catch in place (while it imports the environment check
        # and the runner), or an error it caused: Python 3.11 wraps Ctrl-C in a class definition
        # in RuntimeError. Nothing was written yet: the runner's one line, importing little.
        from pipeline.core.errors import caused_by_ctrl_c, interrupted

        if not caused_by_ctrl_c(err):
            raise
        argv = sys.argv[1:]
        name = argv[0] if argv and argv[0] in COMMANDS else "python -m pipeline"
        status = interrupted(name, early_hint(name))
    sys.exit(status)
