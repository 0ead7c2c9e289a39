"""nlgan: non-local (self-attention) GANs — SAGAN-style models, training and evaluation."""

__version__ = "0.1.0"
