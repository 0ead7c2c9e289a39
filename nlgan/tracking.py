"""Experiment tracking: the one module in nlgan that talks to wandb.

``Tracker`` wraps a wandb run so that tracking never breaks training: wandb is imported only
when a run is actually started (``nlgan --help`` and ``log.wandb=disabled`` never import it),
an online run that cannot reach the server falls back to offline mode with a warning, and any
error while logging is reported once and turns tracking off for the rest of the run.

The mode comes from ``cfg.log.wandb`` unless the ``WANDB_MODE`` environment variable is set,
which wins (so ``WANDB_MODE=offline nlgan train ...`` works as wandb users expect). Files go
under ``run_dir/wandb/``. Passing the ``run_id`` stored in a checkpoint as ``resume_id``
continues the same wandb run after a restart.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from nlgan.config import ConfigError, LogConfig

INIT_TIMEOUT_S = 30.0  # an unreachable server fails over to offline after this long
LOGIN_TIMEOUT_S = 30.0  # an unanswered interactive login prompt gives up after this long
MODES = ("online", "offline", "disabled")


def resolve_mode(log: LogConfig) -> str:
    """The wandb mode to use: ``WANDB_MODE`` from the environment, else ``log.wandb``."""
    mode = os.environ.get("WANDB_MODE", "").strip().lower() or log.wandb
    if mode == "dryrun":  # wandb's old name for offline
        mode = "offline"
    if mode not in MODES:
        source = "WANDB_MODE" if os.environ.get("WANDB_MODE", "").strip() else "log.wandb"
        raise ConfigError(
            f"{source}={mode!r}: choose one of {', '.join(MODES)} (or unset WANDB_MODE)"
        )
    return mode


class Tracker:
    """Logs scalars and images of one training run to wandb; a no-op when disabled."""

    def __init__(
        self,
        log: LogConfig,
        run_dir: str | Path,
        config: dict[str, Any],
        resume_id: str | None = None,
        enabled: bool = True,
    ) -> None:
        self.mode = resolve_mode(log) if enabled else "disabled"
        self._run: Any = None
        self._wandb: Any = None
        if self.mode == "disabled":
            return
        import wandb  # lazily: importing wandb costs seconds and starts nothing we need otherwise

        self._wandb = wandb
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        kwargs = dict(
            project=log.project,
            entity=log.entity or None,
            name=log.name or None,
            tags=list(log.tags) or None,
            config=config,
            dir=str(run_dir),
            id=resume_id,
            resume="allow" if resume_id else None,
        )
        try:
            self._run = self._init(kwargs, self.mode)
        except Exception as err:
            if self.mode != "online":
                self._give_up("could not start wandb", err)
                return
            warnings.warn(
                f"wandb online init failed ({_reason(err)}); logging offline instead "
                f"(sync later with `wandb sync {run_dir / 'wandb'}`)",
                stacklevel=2,
            )
            self.mode = "offline"
            try:
                self._run = self._init(kwargs, "offline")
            except Exception as err2:
                self._give_up("could not start wandb offline either", err2)

    def _init(self, kwargs: dict[str, Any], mode: str) -> Any:
        settings = self._wandb.Settings(
            init_timeout=INIT_TIMEOUT_S, login_timeout=LOGIN_TIMEOUT_S, silent=True
        )
        return self._wandb.init(mode=mode, settings=settings, reinit="create_new", **kwargs)

    @property
    def run_id(self) -> str | None:
        """The wandb run id (store it in checkpoints to resume the same run), or None."""
        return self._run.id if self._run is not None else None

    @property
    def active(self) -> bool:
        """True while a wandb run is receiving what is logged."""
        return self._run is not None

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Log scalar values at G step ``step``."""
        if self._run is None:
            return
        try:
            self._run.log(dict(metrics), step=step)
        except Exception as err:
            self._give_up("wandb.log failed", err)

    def log_image(
        self, key: str, image: np.ndarray | str | Path, step: int, caption: str | None = None
    ) -> None:
        """Log an image: a uint8 ``[H, W, C]`` (or ``[H, W]``) array or a path to an image file."""
        if self._run is None:
            return
        try:
            data = str(image) if isinstance(image, (str, Path)) else np.asarray(image)
            self._run.log({key: self._wandb.Image(data, caption=caption)}, step=step)
        except Exception as err:
            self._give_up("wandb image logging failed", err)

    def log_html(self, key: str, path: str | Path, step: int) -> None:
        """Log an HTML file (the run's report) at step ``step``: as an Html panel to look at in
        the dashboard, and as an artifact of type ``key`` (a versioned file to download)."""
        if self._run is None:
            return
        try:
            self._run.log({key: self._wandb.Html(Path(path), inject=False)}, step=step)
            artifact = self._wandb.Artifact(f"{key}-{self._run.id}", type=key)
            artifact.add_file(str(path), name=Path(path).name)
            self._run.log_artifact(artifact)
        except Exception as err:
            self._give_up("wandb HTML logging failed", err)

    def finish(self) -> None:
        """Close the run (flushes offline files); safe to call more than once."""
        run, self._run = self._run, None
        if run is None:
            return
        try:
            run.finish()
        except Exception as err:
            warnings.warn(f"wandb finish failed ({_reason(err)}); ignored", stacklevel=2)

    def _give_up(self, what: str, err: BaseException) -> None:
        warnings.warn(
            f"{what} ({_reason(err)}); tracking is off for the rest of this run", stacklevel=3
        )
        run, self._run = self._run, None
        self.mode = "disabled"
        if run is not None:
            try:
                run.finish(exit_code=1)
            except Exception:  # already broken; the warning above is what the user needs
                pass


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200]}" if text else type(err).__name__
