"""Attention maps of G's self-attention layers: distributions over the (pooled) keys."""

from __future__ import annotations

import pytest
import torch

from nlgan.errors import NlganError
from nlgan.sampling import latents
from nlgan.sampling.attention_maps import capture_attention, parse_queries, render_attention

from tiny import tiny_generator


def test_attention_maps_are_distributions_over_keys():
    G = tiny_generator(g_attn_resolutions=(8, 16))
    images, maps = capture_attention(G, latents(0, 2, 8), torch.tensor([0, 1]))
    assert images.shape == (2, 3, 16, 16)
    assert [m.query_shape for m in maps] == [(8, 8), (16, 16)]
    assert [m.key_shape for m in maps] == [(4, 4), (8, 8)]  # SAGAN pools keys 2x2
    for m in maps:
        assert m.weights.shape == (2, m.query_shape[0] * m.query_shape[1], m.weights.shape[2])
        torch.testing.assert_close(m.weights.sum(-1), torch.ones(m.weights.shape[:2]))
        assert m.for_point(0, 0.99, 0.0).shape == m.key_shape
    figure = render_attention(images, maps, parse_queries("auto:2"), panel=32)
    assert figure.size == ((1 + 2 * 2) * 32, 14 + 2 * 32)


def test_query_parsing_and_errors():
    assert parse_queries("0.5,0.5;0.1,0.9") == ((0.5, 0.5), (0.1, 0.9))
    assert len(parse_queries("auto:4")) == 4
    for text, message in [("auto:9", "auto:1 .. auto:5"), ("a,b", "expected 'auto'")]:
        with pytest.raises(NlganError, match=message):
            parse_queries(text)
    with pytest.raises(NlganError, match="no self-attention layers"):
        capture_attention(tiny_generator(g_attn_resolutions=()), latents(0, 1, 8),
                          torch.tensor([0]))  # fmt: skip
