"""Importing other projects' weights: BigGAN-PyTorch and StudioGAN GANs into nlgan runs.

- :mod:`~nlgan.interop.foreign`: reading their files without running code from them, and
  copying tensors into nlgan layers with shape checks (spectral-norm state converted).
- :mod:`~nlgan.interop.biggan_pytorch`, :mod:`~nlgan.interop.studiogan`: each project's config
  and tensor names mapped onto a :class:`~nlgan.config.ModelConfig` and nlgan's modules;
  :mod:`~nlgan.interop.biggan_settings`, :mod:`~nlgan.interop.studiogan_settings`: their
  options, training hyperparameters and sampling settings (StudioGAN's ``RUN``, freezeD).
- :mod:`~nlgan.interop.imported`: the result of an import, written as an nlgan run directory.

mmcv's non-local blocks load through :func:`nlgan.nn.load_mmcv_nonlocal` (a block, not a GAN).
"""
