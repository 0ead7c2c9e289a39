"""Everything that runs a trained generator: loading, generation, grids, interpolation,
standing statistics, attention maps, sample writers and weight export.

- :mod:`~nlgan.sampling.latents`: the rule "sample i = G(latent i, class i mod K)".
- :mod:`~nlgan.sampling.loading`: G from a run directory, checkpoint or export.
- :mod:`~nlgan.sampling.generate`: batched generation, class grids, :func:`eval_mode`.
- :mod:`~nlgan.sampling.images`: uint8 conversion and upscaled PNG grids.
- :mod:`~nlgan.sampling.interpolation`, :mod:`~nlgan.sampling.standing_stats`,
  :mod:`~nlgan.sampling.attention_maps`, :mod:`~nlgan.sampling.writers` (image folders and
  ``.npz``), :mod:`~nlgan.sampling.export` (weights to safetensors).
"""

from nlgan.sampling.generate import (
    class_grid,
    eval_mode,
    forward_images,
    generate,
    generate_uint8,
    iter_generate,
)
from nlgan.sampling.images import auto_upscale, save_grid, to_uint8, to_unit_range, upscale
from nlgan.sampling.interpolation import interpolation_grid
from nlgan.sampling.latents import (
    LATENT_CHUNK,
    check_classes,
    latents,
    latents_for,
    truncated_normal,
)
from nlgan.sampling.loading import load_generator
from nlgan.sampling.standing_stats import standing_stats

__all__ = [
    "LATENT_CHUNK",
    "auto_upscale",
    "check_classes",
    "class_grid",
    "eval_mode",
    "forward_images",
    "generate",
    "generate_uint8",
    "interpolation_grid",
    "iter_generate",
    "latents",
    "latents_for",
    "load_generator",
    "save_grid",
    "standing_stats",
    "to_uint8",
    "to_unit_range",
    "truncated_normal",
    "upscale",
]
