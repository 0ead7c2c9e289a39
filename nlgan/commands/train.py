"""``nlgan train``: train a GAN from a YAML preset plus ``--set`` overrides, or resume a run."""

from __future__ import annotations

import signal

import click


@click.command(
    "train",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=(
        "Examples: nlgan train  |  nlgan train cifar10_sagan --set "
        "data.root=/data/cifar10 --out runs/c10  |  nlgan train my.yaml  |  "
        "nlgan train --resume runs/c10"
    ),
)
@click.argument("config", required=False)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one config value, e.g. --set train.lr_d=4e-4 (repeatable).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Run directory (default: runs/<config name>).",
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False),
    help="Continue the run in this directory from its latest good checkpoint.",
)
def command(
    config: str | None, overrides: tuple[str, ...], out: str | None, resume: str | None
) -> None:
    """Train a GAN from CONFIG: a YAML file or a built-in preset name (digits, cifar10_sagan,
    imagenet128_sagan; default digits)."""
    # Heavy imports here, so that `nlgan train --help` stays instant.
    from nlgan.errors import NlganError
    from nlgan.train.distributed import launched_rank
    from nlgan.train.interrupt import Abort, exit_code, ignore_stop_signals
    from nlgan.train.loop import Trainer
    from nlgan.train.run import new_run, resume_run

    if resume and (config or out):
        raise click.UsageError(
            "--resume RUN continues RUN with its own config.yaml: drop CONFIG / --out"
        )
    trainer = None
    try:
        if resume:
            cfg, run_dir, ckpt, state = resume_run(resume, overrides)
            if state["step"] >= cfg.train.steps:
                if launched_rank() == 0:  # every process stops here; one says so
                    click.echo(
                        f"{run_dir} is already at step {state['step']} (train.steps="
                        f"{cfg.train.steps}); to train further: nlgan train --resume {run_dir} "
                        f"--set train.steps=N"
                    )
                return
            if launched_rank() == 0:  # torchrun starts N processes: say it once
                click.echo(f"resuming {run_dir} from {ckpt.name} (step {state['step']})")
        else:
            cfg, run_dir = new_run(config, overrides, out)
            state = None
        trainer = Trainer(cfg, run_dir, state)
        result = trainer.fit()
        # Every process finished the same step: leave the group together. A process that
        # exits with the group alive can die in gloo's threads at interpreter teardown
        # (SIGABRT, "terminate called without an active exception") after a good run.
        trainer.acc.end_training()
    except NlganError as err:
        raise click.ClickException(str(err)) from None
    except (Abort, KeyboardInterrupt) as err:
        if (click.get_current_context().obj or {}).get("owns_process"):
            ignore_stop_signals()  # leaving: a third signal must not interrupt the report
        signum = err.signum if isinstance(err, Abort) else int(signal.SIGINT)
        if trainer is not None and trainer.finished:
            # A late signal on the way out (the trainer's handler already gone): the run's
            # last checkpoint is written, so this is a clean stop, not a cut step.
            if launched_rank() == 0:
                click.echo(_stopped(signum, trainer.step, trainer.last_checkpoint, run_dir))
            raise click.exceptions.Exit(exit_code(signum)) from None
        if launched_rank() == 0:
            last = trainer.last_checkpoint if trainer is not None else None
            saved = f"the newest checkpoint is {last.name}" if last else "no checkpoint yet"
            cause = str(err) if isinstance(err, Abort) else "interrupted in the middle of a step"
            click.echo(
                f"{cause}; nothing was saved after the last finished checkpoint ({saved})"
                + (f"; continue with: nlgan train --resume {run_dir}" if last else ""),
                err=True,
            )
        raise click.exceptions.Exit(exit_code(signum)) from None
    if result.interrupted and (click.get_current_context().obj or {}).get("owns_process"):
        ignore_stop_signals()  # the checkpoint is written: a late signal must not abort the exit
    if not trainer.acc.is_main_process:
        if result.interrupted:
            raise click.exceptions.Exit(exit_code(result.signal))
        return
    if result.interrupted:
        click.echo(_stopped(result.signal, result.step, result.checkpoint, run_dir))
        raise click.exceptions.Exit(exit_code(result.signal))
    click.echo(
        f"done: {result.step} steps in {result.seconds / 60:.1f} min; "
        f"checkpoint {result.checkpoint}; samples in {run_dir / 'samples'}"
    )


def _stopped(signum: int, step: int, checkpoint: object, run_dir: object) -> str:
    """The line of a run stopped cleanly by a signal: where it stopped and how to go on."""
    from nlgan.train.interrupt import signal_name

    return (
        f"{signal_name(signum)}: stopped at step {step}; checkpoint {checkpoint}; "
        f"continue with: nlgan train --resume {run_dir}"
    )
