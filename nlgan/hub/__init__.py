"""Sharing runs on the Hugging Face Hub: the repository layout and model card, pushing a run,
and loading ``hf://user/name`` generators (``nlgan.load_generator`` / ``nlgan sample``).

- :mod:`~nlgan.hub.layout`: the files of a repository;
- :mod:`~nlgan.hub.staging`: writing them for a run into a folder;
- :mod:`~nlgan.hub.card`: the generated model card.
- :mod:`~nlgan.hub.remote`: upload and download through ``huggingface_hub``.
"""
