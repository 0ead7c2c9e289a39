"""Generator / Discriminator: every resolution, attention placement, conditioning, init, errors."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from nlgan.config import ConfigError, ModelConfig
from nlgan.models import Discriminator, Generator, attention_gammas, check_label_values
from nlgan.nn import ConditionalBatchNorm2d, SelfAttention, init_weights
from nlgan.nn.sync_bn import convert_sync_batchnorm

from tiny import tiny_model as tiny


def _raw_weights(model: nn.Module):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            if parametrize.is_parametrized(m, "weight"):
                yield m, m.parametrizations.weight.original
            else:
                yield m, m.weight


def _attention_sizes(model: nn.Module, run) -> list[int]:
    """Feature-map sizes seen by the attention layers, in call order."""
    seen: list[int] = []
    hooks = [
        a.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[-1]))
        for a in model.attention_layers()
    ]
    run()
    for h in hooks:
        h.remove()
    return seen


def _forward_backward(cfg: ModelConfig, batch: int = 2) -> None:
    torch.manual_seed(0)
    G, D = Generator(cfg), Discriminator(cfg)
    z = torch.randn(batch, cfg.z_dim)
    y = torch.randint(0, cfg.num_classes, (batch,)) if cfg.num_classes else None
    g_sizes = _attention_sizes(G, lambda: G(z, y))
    assert g_sizes == sorted(cfg.g_attn_resolutions)
    x = G(z, y)
    assert x.shape == (batch, cfg.img_channels, cfg.resolution, cfg.resolution)
    assert x.abs().max() <= 1.0
    d_sizes = _attention_sizes(D, lambda: D(x.detach(), y))
    assert d_sizes == sorted(cfg.d_attn_resolutions, reverse=True)
    logits = D(x, y)
    assert logits.shape == (batch,) and logits.dtype == torch.float32
    F.relu(1.0 - logits).mean().backward()
    for net in (G, D):
        for name, p in net.named_parameters():
            assert p.grad is not None, name
            assert torch.isfinite(p.grad).all(), name
    assert all(isinstance(a, SelfAttention) for a in G.attention_layers() + D.attention_layers())


@pytest.mark.parametrize(
    "overrides",
    [
        dict(resolution=16, g_attn_resolutions=(8, 16), d_attn_resolutions=(8, 4)),
        dict(resolution=16, num_classes=0, img_channels=1, g_attn_resolutions=()),
        dict(resolution=32, img_channels=1, g_attn_resolutions=(), d_attn_resolutions=()),
        dict(resolution=32, shared_dim=6, hier=True, z_dim=16, d_attn_resolutions=(16, 8)),
        dict(resolution=32, num_classes=0, hier=True, z_dim=16, g_attn_resolutions=(8, 32)),
        dict(
            resolution=64,
            g_ch=8,
            d_ch=8,
            g_attn_resolutions=(32,),
            d_attn_resolutions=(32,),
            init="N02",
        ),
        dict(
            resolution=64,
            g_ch=8,
            num_classes=0,
            img_channels=1,
            g_attn_resolutions=(8, 64),
            d_attn_resolutions=(),
            g_sn=False,
            d_sn=False,
            init="xavier",
        ),
    ],
    ids=[
        "16-cond",
        "16-uncond-gray",
        "32-noattn",
        "32-shared-hier",
        "32-uncond-hier",
        "64",
        "64-nosn",
    ],
)
def test_forward_backward(overrides):
    _forward_backward(tiny(**overrides))


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        dict(resolution=128, shared_dim=8, hier=True, z_dim=12, g_attn_resolutions=(32,),
             d_attn_resolutions=(32,), init="N02"),
        dict(resolution=256, num_classes=0, img_channels=1, g_attn_resolutions=(32,),
             d_attn_resolutions=(16,), z_dim=14, hier=True),
    ],
    ids=["128-shared-hier", "256-uncond"],
)  # fmt: skip
def test_forward_backward_large(overrides):
    _forward_backward(tiny(**overrides), batch=1 if overrides["resolution"] == 256 else 2)


def _kinds(model: nn.Module) -> list[str]:
    return [type(m).__name__ for m in model.attention]


def test_d_attention_follows_first_block_of_that_size():
    # 16 px D: block outputs are 8, 4, 4; attention at 4 goes after block 1, not block 2.
    D = Discriminator(tiny(resolution=16, d_attn_resolutions=(4,)))
    assert _kinds(D) == ["Identity", "SelfAttention", "Identity"]
    assert D.attention_sizes == [4]
    G = Generator(tiny(resolution=16, g_attn_resolutions=(16, 8)))
    assert _kinds(G) == ["SelfAttention", "SelfAttention"]
    assert G.attention_layers() == [G.attention[0], G.attention[1]]
    assert G.attention_sizes == [8, 16]
    # State-dict names are attention.<block index>.*, as they always were.
    assert any(k.startswith("attention.1.") for k in D.state_dict())
    assert not any(k.startswith(("attention.0.", "attention.2.")) for k in D.state_dict())


def test_attention_gammas_by_size():
    G = Generator(tiny(g_attn_resolutions=(8, 16)))
    assert attention_gammas(G) == {8: 0.0, 16: 0.0}
    with torch.no_grad():
        G.attention[1].gamma.fill_(0.25)
    assert attention_gammas(G) == {8: 0.0, 16: 0.25}
    assert attention_gammas(Discriminator(tiny(d_attn_resolutions=()))) == {}


def test_widths_follow_the_table():
    cfg = tiny(resolution=64, g_ch=8, d_ch=8)
    G, D = Generator(cfg), Discriminator(cfg)
    assert G.stem.out_features == 16 * 8 * 4 * 4
    assert [b.conv1.out_channels for b in G.blocks] == [64, 32, 16, 8]
    assert [b.conv1.out_channels for b in D.blocks] == [8, 16, 32, 64, 128]
    assert D.blocks[0].first and not any(b.first for b in D.blocks[1:])
    assert [b.downsample for b in D.blocks] == [True, True, True, True, False]


def test_biggan_table_differs_only_in_the_64px_generator():
    studio, biggan = tiny(resolution=64, g_ch=8, d_ch=8), tiny(resolution=64, g_ch=8, d_ch=8,
                                                                arch="biggan")  # fmt: skip
    G = Generator(biggan)
    assert G.stem.out_features == 16 * 8 * 4 * 4
    assert [b.conv1.out_channels for b in G.blocks] == [128, 64, 32, 16]  # (16, 16, 8, 4, 2) x 8
    assert G.out_conv.in_channels == 16
    d_studio, d_biggan = Discriminator(studio).state_dict(), Discriminator(biggan).state_dict()
    assert {k: v.shape for k, v in d_studio.items()} == {k: v.shape for k, v in d_biggan.items()}
    for r, ch in ((16, 4), (32, 4), (128, 1)):
        a = Generator(tiny(resolution=r, g_ch=ch, d_ch=ch))
        b = Generator(tiny(resolution=r, g_ch=ch, d_ch=ch, arch="biggan"))
        assert {k: v.shape for k, v in a.state_dict().items()} == {
            k: v.shape for k, v in b.state_dict().items()
        }
    with pytest.raises(ConfigError, match="model.arch='bigan': choose one of studiogan, biggan"):
        tiny(arch="bigan")


def test_one_adam_step_with_hinge_loss_changes_parameters():
    torch.manual_seed(1)
    cfg = tiny(num_classes=5)
    G, D = Generator(cfg), Discriminator(cfg)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.999))
    g_before = {k: v.clone() for k, v in G.state_dict().items()}
    d_before = {k: v.clone() for k, v in D.state_dict().items()}
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    y = torch.tensor([0, 1, 2, 3])
    z = torch.randn(4, cfg.z_dim)

    logits = D(torch.cat([G(z, y).detach(), real]), torch.cat([y, y]))
    fake_l, real_l = logits.chunk(2)
    d_loss = F.relu(1 - real_l).mean() + F.relu(1 + fake_l).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = -D(G(z, y), y).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()

    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    for net, before in ((G, g_before), (D, d_before)):
        after = net.state_dict()
        assert all(torch.isfinite(v.float()).all() for v in after.values())
        raw = [k for k in after if k.endswith("weight.original")]
        assert all(not torch.equal(after[k], before[k]) for k in raw if "attention" not in k)
        gammas = [k for k in after if k.endswith("gamma")]
        assert gammas and all(not torch.equal(after[k], before[k]) for k in gammas)
    # The classes in the batch got their own gains; the unused class 4 kept gain 1.
    table = G.blocks[0].bn1.gain
    assert not torch.equal(table[0], torch.ones_like(table[0]))
    assert torch.equal(table[4], torch.ones_like(table[4]))


@pytest.mark.parametrize("shared_dim", [0, 6])
def test_g_of_labels_equals_g_of_embedding(shared_dim):
    torch.manual_seed(2)
    G = Generator(tiny(shared_dim=shared_dim)).eval()
    z, y = torch.randn(3, 8), torch.tensor([0, 2, 1])
    emb = G.embed(y)
    assert emb.shape == (3, shared_dim or 3) and emb.dtype == torch.float32
    torch.testing.assert_close(G(z, y), G(z, emb=emb), rtol=0, atol=0)
    if shared_dim == 0:
        torch.testing.assert_close(emb, F.one_hot(y, 3).float())
    # Halfway between two classes lies between their images' conditioning.
    mid = G(z[:1], emb=0.5 * (emb[:1] + emb[1:2]))
    assert mid.shape == (1, 3, 16, 16) and torch.isfinite(mid).all()


def test_unconditional_generator_is_deterministic_in_eval():
    torch.manual_seed(3)
    G = Generator(tiny(num_classes=0)).eval()
    z = torch.randn(2, 8)
    torch.testing.assert_close(G(z), G(z), rtol=0, atol=0)
    assert G.embed_dim == 0


@pytest.mark.parametrize("sn", [True, False])
def test_spectral_norm_on_every_layer_when_enabled(sn):
    cfg = tiny(g_sn=sn, d_sn=sn, shared_dim=4)
    for net in (Generator(cfg), Discriminator(cfg)):
        layers = list(_raw_weights(net))
        assert len(layers) > 10
        assert all(parametrize.is_parametrized(m, "weight") == sn for m, _ in layers)


@pytest.mark.parametrize("scheme", ["ortho", "N02", "xavier"])
def test_init_keeps_cbn_tables_and_gamma(scheme):
    G = Generator(tiny(init=scheme, g_attn_resolutions=(8,)))
    tables = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(tables) == 2 * 2 + 1
    for m in tables:
        assert torch.equal(m.gain, torch.ones_like(m.gain))
        assert torch.equal(m.bias, torch.zeros_like(m.bias))
    assert all(float(a.gamma.detach()) == 0.0 for a in G.attention_layers())
    assert all(m.bias is None or not m.bias.any() for m, _ in _raw_weights(G))


def test_init_n02_std():
    torch.manual_seed(4)
    D = Discriminator(tiny(resolution=64, d_ch=8, init="N02"))
    weights = torch.cat([w.detach().flatten() for _, w in _raw_weights(D)])
    assert weights.numel() > 100_000
    assert float(weights.std()) == pytest.approx(0.02, rel=0.02)
    assert abs(float(weights.mean())) < 1e-3


def test_init_ortho_rows_orthonormal():
    torch.manual_seed(5)
    G = Generator(tiny(init="ortho"))
    checked = 0
    for _, w in _raw_weights(G):
        w2 = w.detach().flatten(1)
        if w2.shape[0] <= w2.shape[1]:
            torch.testing.assert_close(w2 @ w2.t(), torch.eye(w2.shape[0]), atol=1e-5, rtol=0)
            checked += 1
    assert checked >= 5


def test_init_xavier_bound_and_sn_estimate_restarted():
    torch.manual_seed(6)
    layer = nn.Sequential(nn.Conv2d(16, 32, 3))
    init_weights(layer, "xavier")
    bound = (6 / (16 * 9 + 32 * 9)) ** 0.5
    w = layer[0].weight
    w_max = float(w.detach().abs().max())
    assert 0.9 * bound < w_max <= bound
    G = Generator(tiny(init="N02")).eval()  # re-drawn after SN registration
    for name, m in G.named_modules():
        if parametrize.is_parametrized(m, "weight"):
            true = torch.linalg.matrix_norm(
                m.parametrizations.weight.original.detach().flatten(1), 2
            )
            assert float(m.parametrizations.weight[0].sigma) == pytest.approx(
                float(true), rel=0.1
            ), name
    with pytest.raises(ValueError, match="init='he'"):
        init_weights(layer, "he")


def test_cfg_deepcopy_state_dict_and_sync_bn():
    torch.manual_seed(7)
    cfg = tiny(shared_dim=4, g_attn_resolutions=(16,))
    G = Generator(cfg)
    assert G.cfg is cfg and Discriminator(cfg).cfg is cfg
    G(torch.randn(4, 8), torch.tensor([0, 1, 2, 0]))  # move u, v and BN running stats
    G.eval()
    z, y = torch.randn(2, 8), torch.tensor([1, 2])
    ema = copy.deepcopy(G)
    torch.testing.assert_close(ema(z, y), G(z, y))
    fresh = Generator(cfg).eval()
    fresh.load_state_dict(G.state_dict())
    torch.testing.assert_close(fresh(z, y), G(z, y), rtol=0, atol=0)
    converted = convert_sync_batchnorm(copy.deepcopy(G)).eval()
    assert not any(type(m) is nn.BatchNorm2d for m in converted.modules())
    torch.testing.assert_close(converted(z, y), G(z, y))


def test_label_and_input_errors():
    cond, uncond = tiny(), tiny(num_classes=0)
    G, D = Generator(cond), Discriminator(cond)
    Gu, Du = Generator(uncond), Discriminator(uncond)
    z, x = torch.randn(2, 8), torch.randn(2, 3, 16, 16)
    cases = [
        (lambda: G.embed(torch.tensor([0, 5])), r"values must be in \[0, 2\] .* got 0\.\.5"),
        (lambda: check_label_values(torch.tensor([-1, 0]), 3), r"values must be in \[0, 2\]"),
        (lambda: G(z, torch.zeros(2, 1, dtype=torch.long)), r"\[B\] integer .* shape \[2, 1\]"),
        (lambda: D(x, torch.zeros(2)), r"integer \(long\) tensor, got torch.float32"),
        (lambda: G(z, torch.tensor([0, 1, 2])), "3 labels for a batch of 2"),
        (lambda: G(z), r"class-conditional \(model.num_classes=3\): call G\(z, y\)"),
        (lambda: D(x), r"class-conditional \(model.num_classes=3\): pass labels y"),
        (lambda: Gu(z, torch.tensor([0, 1])), r"unconditional .* without y or emb"),
        (lambda: Du(x, torch.tensor([0, 1])), "Discriminator is unconditional"),
        (lambda: Gu.embed(torch.tensor([0])), "unconditional .* no class embedding"),
        (lambda: G(z, torch.tensor([0, 1]), emb=torch.zeros(2, 3)), "not both"),
        (lambda: G(z, emb=torch.zeros(2, 4)), r"emb: expected shape \[2, 3\]"),
        (lambda: G(torch.randn(2, 11), torch.tensor([0, 1])), r"z: expected shape \[B, 8\]"),
        (lambda: D(torch.randn(2, 1, 16, 16), torch.tensor([0, 1])), r"\[B, 3, 16, 16\]"),
        (lambda: D(torch.randn(2, 3, 32, 32), torch.tensor([0, 1])), "model.resolution"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern) as info:
            call()
        assert "\n" not in str(info.value)


def test_config_errors():
    cases = [
        (dict(g_attn_resolutions=(4,)), r"\[4\]: 4 is not a feature-map size .* 8, 16"),
        (dict(d_attn_resolutions=(16,)), r"\[16\]: 16 is not a feature-map size .* 4, 8"),
        (dict(g_ch=1, g_attn_resolutions=(8,)), r"has 4 channels .*raise model.g_ch"),
        (dict(d_ch=3, d_attn_resolutions=(8,)), r"model.d_attn_resolutions=\[8\]: .* 12 channels"),
        (dict(num_classes=0, shared_dim=8), "shared_dim=8: a shared class embedding needs"),
        (dict(hier=True, z_dim=10), r"z_dim=10: .* 3 chunks"),
    ]
    for overrides, pattern in cases:
        with pytest.raises(ConfigError, match=pattern):
            tiny(**overrides)


def test_training_forwards_read_nothing_back_to_the_host():
    """No .item() / int() / bool() of a tensor in G or D's forward: each would be a host-device
    sync per micro-batch on a GPU (label values are checked at the public entry points)."""
    from torch.overrides import TorchFunctionMode

    syncing = {
        torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__bool__, torch.Tensor.__int__,
        torch.Tensor.__float__, torch.Tensor.__index__, torch.Tensor.nonzero, torch.aminmax,
    }  # fmt: skip

    class Record(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.calls = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in syncing:
                self.calls.append(func.__name__)
            return func(*args, **(kwargs or {}))

    cfg = tiny(shared_dim=4, hier=True, z_dim=9, g_attn_resolutions=(8, 16))
    G, D = Generator(cfg).train(), Discriminator(cfg).train()
    z, y = torch.randn(4, 9), torch.tensor([0, 1, 2, 0])
    with Record() as record:
        D(G(z, y), y).mean().backward()
        G.eval(), D.eval()
        D(G(z, y), y)
    assert record.calls == []
    with Record() as record:  # the check itself would be seen
        check_label_values(y, 3)
    assert record.calls
