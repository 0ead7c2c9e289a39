"""Config loading, --set overrides, one-line errors and the save/load round trip."""

from __future__ import annotations

import pytest

from nlgan.config import (
    Config,
    ConfigError,
    ModelConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)


def load(*overrides: str, path=None) -> Config:
    return load_config(path, list(overrides))


def one_line_error(*overrides: str, path=None) -> str:
    with pytest.raises(ConfigError) as info:
        load(*overrides, path=path)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- loading


def test_no_file_means_the_dataclass_defaults():
    assert load() == Config()


def test_yaml_file_with_scientific_notation_strings(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "model:\n  resolution: 64\n  g_attn_resolutions: [32]\n  d_attn_resolutions: [32]\n"
        "train:\n  lr_g: 1e-4\n  lr_d: 4E-4\n  steps: 1e3\n"
        "log:\n  tags: [a, b]\n"
    )
    cfg = load(path=path)
    assert cfg.train.lr_g == 1e-4 and isinstance(cfg.train.lr_g, float)  # YAML reads a string
    assert cfg.train.lr_d == 4e-4 and cfg.train.steps == 1000 and isinstance(cfg.train.steps, int)
    assert cfg.model.resolution == 64 and cfg.model.g_attn_resolutions == (32,)
    assert cfg.log.tags == ("a", "b")
    assert cfg.data == Config().data  # missing sections take defaults


def test_overrides_beat_the_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  lr_d: 1e-3\n  steps: 10\n")
    cfg = load("train.lr_d=2e-4", path=path)
    assert cfg.train.lr_d == 2e-4 and cfg.train.steps == 10


def test_empty_file_means_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load(path=path) == Config()


# --------------------------------------------------------------------------- --set per type


@pytest.mark.parametrize(
    ("override", "section", "key", "expected"),
    [
        ("train.steps=500", "train", "steps", 500),
        ("train.steps=1e3", "train", "steps", 1000),
        ("train.lr_d=1e-4", "train", "lr_d", 1e-4),
        ("train.lr_d=0.0002", "train", "lr_d", 2e-4),
        ("train.beta1=0", "train", "beta1", 0.0),
        ("model.hier=true", "model", "hier", True),
        ("model.g_sn=false", "model", "g_sn", False),
        ("model.g_sn=no", "model", "g_sn", False),
        ("model.g_sn=0", "model", "g_sn", False),
        ("model.hier=On", "model", "hier", True),
        ("train.loss=nonsat", "train", "loss", "nonsat"),
        ("log.name=0123", "log", "name", "0123"),  # stays text, not YAML's octal 83
        ("log.name=yes", "log", "name", "yes"),
        ("log.name=", "log", "name", ""),
        ("model.g_attn_resolutions=16,32", "model", "g_attn_resolutions", (16, 32)),
        ("model.g_attn_resolutions=[16, 32]", "model", "g_attn_resolutions", (16, 32)),
        ("model.g_attn_resolutions=[]", "model", "g_attn_resolutions", ()),
        ("model.g_attn_resolutions=", "model", "g_attn_resolutions", ()),
        ("model.g_attn_resolutions=8", "model", "g_attn_resolutions", (8,)),
        ("eval.metrics=fid, kid", "eval", "metrics", ("fid", "kid")),
        ("log.tags=[a, b]", "log", "tags", ("a", "b")),
    ],
)
def test_set_every_type(override, section, key, expected):
    value = getattr(getattr(load(override), section), key)
    assert value == expected and type(value) is type(expected)


def test_later_overrides_win_and_do_not_mutate_the_input():
    values = {"train": {"steps": 3}}
    out = apply_overrides(values, ["train.steps=4", "train.steps=5"])
    assert values == {"train": {"steps": 3}}
    assert config_from_dict(out).train.steps == 5


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.lr_x=1", "unknown config key 'train.lr_x' (did you mean train.lr_g?)"),
        ("train.stpes=10", "did you mean train.steps?"),
        ("trian.steps=10", "unknown config key 'trian' (did you mean train?)"),
        ("model.attn_resolutions=[16]", "did you mean model.g_attn_resolutions?"),
        ("train.qqqqqq=1", "(valid: steps, batch_size,"),
    ],
)
def test_unknown_keys_suggest_the_closest(override, expected):
    assert expected in one_line_error(override)


def test_unknown_key_in_a_file_suggests_too(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  batchsize: 8\n")
    assert "did you mean train.batch_size?" in one_line_error(path=path)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.g_ch=abc", "model.g_ch='abc': expected an integer"),
        ("model.g_ch=1.5", "model.g_ch='1.5': expected an integer"),
        ("train.lr_d=fast", "train.lr_d='fast': expected a number"),
        ("model.hier=maybe", "model.hier='maybe': expected true or false"),
        ("model.g_attn_resolutions=16,abc", "model.g_attn_resolutions='abc': expected an integer"),
        ("model.g_attn_resolutions=[16, 32", "model.g_attn_resolutions='[16, 32': not a list"),
    ],
)
def test_wrong_types_name_the_key(override, expected):
    assert expected in one_line_error(override)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.steps=0", "train.steps must be > 0"),
        ("train.batch_size=-1", "train.batch_size must be > 0"),
        ("train.beta2=1.0", "train.beta2 must be in [0, 1)"),
        ("train.lr_g=0", "train.lr_g and train.lr_d must be > 0"),
        ("train.log_every=-5", "train.log_every must be >= 0"),
        ("model.img_channels=2", "model.img_channels must be 1 or 3"),
        ("model.num_classes=-1", "model.num_classes must be >= 0"),
        ("model.resolution=48", "model.resolution=48: not in the architecture table"),
        ("train.loss=wgan", "train.loss='wgan': choose one of hinge, nonsat"),
        ("log.wandb=maybe", "log.wandb='maybe': choose one of online, offline, disabled"),
        ("eval.metrics=fid,lpips", "eval.metrics='lpips': choose one of fid, is, kid"),
        ("data.name=folder", "data.root is empty: data.name=folder needs --set data.root=PATH"),
        ("eval.every=100", "eval.every > 0 needs eval.reference"),
        ("model.num_classes=7", "the digits data set has 10 classes"),
    ],
)
def test_out_of_range_values_name_the_key(override, expected):
    assert expected in one_line_error(override)


def test_attention_resolution_not_in_the_network_lists_valid_sizes():
    message = one_line_error("model.g_attn_resolutions=[48]")
    assert message == (
        "model.g_attn_resolutions=[48]: 48 is not a feature-map size of a 32x32 generator "
        "(choose from 8, 16, 32)"
    )
    message = one_line_error("model.resolution=16", "model.g_attn_resolutions=[8]")
    assert message == (
        "model.d_attn_resolutions=[16]: 16 is not a feature-map size of a 16x16 discriminator "
        "(choose from 4, 8)"
    )
    with pytest.raises(ConfigError, match=r"32x32 discriminator \(choose from 8, 16\)"):
        ModelConfig(d_attn_resolutions=(32,))


def test_hier_needs_an_evenly_split_z():
    assert "must split evenly into 4 chunks" in one_line_error("model.hier=true", "model.z_dim=10")
    assert load("model.hier=true", "model.z_dim=128").model.hier


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.lr_d", "expected section.key=value"),
        ("lr_d=3", "--set 'lr_d': expected section.key"),
        ("train.opt.lr=3", "expected section.key"),
    ],
)
def test_malformed_overrides(override, expected):
    assert expected in one_line_error(override)


def test_file_errors(tmp_path):
    assert "nope.yaml' not found" in one_line_error(path=tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    assert "not valid YAML" in one_line_error(path=bad)
    section = tmp_path / "section.yaml"
    section.write_text("model: 3\n")
    assert "model: expected a section" in one_line_error(path=section)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="a config must be a mapping"):
        load(path=top)


def test_configs_are_frozen():
    cfg = Config()
    with pytest.raises(AttributeError):
        cfg.train.steps = 5  # type: ignore[misc]


# --------------------------------------------------------------------------- round trip


def test_save_then_load_is_equal(tmp_path):
    cfg = load(
        "model.resolution=64",
        "model.g_attn_resolutions=[16, 32]",
        "model.d_attn_resolutions=[]",
        "model.num_classes=0",
        "train.lr_d=3e-4",
        "log.tags=a,b",
        "log.name=0123",
        "data.hflip=true",
    )
    path = tmp_path / "config.yaml"
    save_config(cfg, path)
    again = load_config(path)
    assert again == cfg
    assert config_to_dict(again) == config_to_dict(cfg)
    assert config_from_dict(config_to_dict(cfg)) == cfg
    assert config_to_dict(cfg)["log"]["tags"] == ["a", "b"]  # lists, for YAML and checkpoints


# --------------------------------------------------------------------------- small data


def test_adaptive_p_starts_at_0_unless_augment_p_is_set(tmp_path):
    from nlgan.losses import losses_for
    from nlgan.train.objective import build_objective

    def start_p(*overrides: str) -> float:
        train = load(*overrides).train
        objective = build_objective(train, 3, losses_for("hinge"), images_per_step=64, rank=0)
        assert objective.probability.p == train.augment_start_p
        return train.augment_start_p

    assert load().train.augment_p is None  # auto
    assert start_p("train.augment=ada", "train.ada_target=0.6") == 0.0  # ADA starts at 0
    assert start_p("train.augment=translation") == 1.0  # DiffAugment's fixed p
    explicit = ("train.augment=ada", "train.ada_target=0.6", "train.augment_p=0.3")
    assert start_p(*explicit) == 0.3
    assert start_p("train.augment=ada", "train.ada_target=0.6", "train.augment_p=1") == 1.0
    assert load("train.augment_p=0.3", "train.augment_p=auto").train.augment_p is None
    # a config saved before augment_p became optional holds 1.0, and keeps it
    cfg = load("train.augment=ada", "train.ada_target=0.6", "train.augment_p=1.0")
    path = tmp_path / "config.yaml"
    save_config(cfg, path)
    assert load_config(path).train.augment_start_p == 1.0
    save_config(load(), path)
    assert "augment_p: null" in path.read_text() and load_config(path).train.augment_p is None


def test_settings_that_would_do_nothing_are_refused():
    assert one_line_error("train.ada_target=0.6") == (
        "train.ada_target=0.6 steers the augmentation's p, but train.augment is empty: set "
        "train.augment (e.g. ada) or train.ada_target=0"
    )
    assert one_line_error("train.bcr=10", "train.bcr_augment=") == (
        "train.bcr=10.0 needs a transform, but train.bcr_augment is empty: set "
        "train.bcr_augment (e.g. xflip,xint, the paper's) or train.bcr=0"
    )
    assert "train.augment_p must be in [0, 1]" in one_line_error("train.augment_p=1.5")
