"""Run configuration: the frozen dataclasses, their loading, the presets and the value checks.

- :mod:`~nlgan.config.schema`: one frozen dataclass per concern (model, data, train, eval,
  log), each validated when built;
- :mod:`~nlgan.config.loading`: YAML files and presets, dotted ``--set`` overrides, saving;
- :mod:`~nlgan.config.values`: typing text to each field's annotation, :class:`ConfigError`;
- :mod:`~nlgan.config.model_checks` / :mod:`~nlgan.config.augment_names`: the structural and
  augmentation-name checks the schema calls;
- :mod:`~nlgan.config.presets`: the built-in YAML presets shipped in the package.

Nothing here imports torch, so the CLI's ``--help`` and config errors stay fast.
"""

from nlgan.config.loading import (
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    load_preset,
    parse_config_text,
    save_config,
)
from nlgan.config.schema import Config, DataConfig, EvalConfig, LogConfig, ModelConfig, TrainConfig
from nlgan.config.values import ConfigError

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "LogConfig",
    "ModelConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "load_preset",
    "parse_config_text",
    "save_config",
]
