"""Training: the GAN step, the EMA generator, resumable randomness and the accelerate loop.

``Trainer(cfg, run_dir, state).fit()`` is what ``nlgan train`` runs; ``run.new_run`` /
``run.resume_run`` resolve a run directory's config and checkpoint first.
"""

from nlgan.train.ema import EMA
from nlgan.train.loop import FitResult, Trainer, TrainingDiverged
from nlgan.train.step import GANStep, Latents

__all__ = ["EMA", "FitResult", "GANStep", "Latents", "Trainer", "TrainingDiverged"]
