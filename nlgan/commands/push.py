"""`nlgan push RUN user/name`: share a run's generator on the Hugging Face Hub, with a model
card generated from the checkpoint (architecture, data, steps, scores and their protocol)."""

from __future__ import annotations

import tempfile

import click

from nlgan.commands.common import one_line_errors


@click.command(name="push")
@click.argument("run", type=click.Path(exists=True))
@click.argument("repo")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--with-g", is_flag=True, help="Also upload the raw generator (G.safetensors).")
@click.option("--with-d", is_flag=True, help="Also upload the discriminator (D.safetensors).")
@click.option("--with-config", is_flag=True, help="Also upload the resolved config.yaml.")
@click.option(
    "--metrics",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A score record from `nlgan fid --json` to publish (repeatable); the run's best "
    "in-training score is included anyway.",
)
@click.option("--best", is_flag=True, help="Publish RUN's best checkpoint (eval.every > 0).")
@click.option(
    "--local-dir",
    type=click.Path(file_okay=False),
    help="Write the repository's files here instead of uploading (no network): a new or empty "
    "folder, or one an earlier push wrote (replaced whole); any other folder is refused.",
)
def command(
    run: str,
    repo: str,
    private: bool,
    with_g: bool,
    with_d: bool,
    with_config: bool,
    metrics: tuple[str, ...],
    best: bool,
    local_dir: str | None,
) -> None:
    """Upload RUN's EMA generator (safetensors), a sample grid and a model card to the Hub
    repository REPO (USER/NAME, created if needed). Log in first: `hf auth login`."""
    from nlgan.hub.layout import HubError
    from nlgan.hub.remote import check_repo_id, upload
    from nlgan.hub.staging import PushOptions, stage, stage_local

    options = PushOptions(with_g, with_d, with_config, metrics, best)
    with one_line_errors():
        check_repo_id(repo)
        if local_dir:
            files = stage_local(run, local_dir, repo, options)
            names = ", ".join(f.name for f in files)
            click.echo(f"wrote {len(files)} files to {local_dir}: {names}")
            return
        with tempfile.TemporaryDirectory(prefix="nlgan-push-") as folder:
            files = stage(run, folder, repo, options)
            try:
                url = upload(folder, repo, private)
            except HubError:
                raise
            except Exception as err:  # noqa: BLE001 - the library's auth / network / API errors
                reason = " ".join(str(err).split())[:200] or type(err).__name__
                raise HubError(f"uploading to {repo} failed: {reason}") from None
    click.echo(f"uploaded {len(files)} files to {url}")
