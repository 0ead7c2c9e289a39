"""`nlgan export`: a safetensors file that `nlgan sample` reads back to identical images."""

from __future__ import annotations

import torch

from nlgan.sampling import class_grid, load_generator

from clitools import cli

K = 3


def test_export_round_trip_gives_identical_images(tiny_run_dir, tmp_path):
    cli("export", tiny_run_dir, tmp_path / "g.safetensors")
    G_run, _ = load_generator(tiny_run_dir)
    G_exp, cfg = load_generator(tmp_path / "g.safetensors")
    assert cfg.model.num_classes == K
    torch.testing.assert_close(class_grid(G_exp, 3, seed=5), class_grid(G_run, 3, seed=5),
                               atol=0, rtol=0)  # fmt: skip
    cli("sample", tmp_path / "g.safetensors", "--grid", tmp_path / "e.png")
    result = cli("sample", tmp_path / "g.safetensors", "--grid", tmp_path / "r.png", "--no-ema",
                 ok=False)  # fmt: skip
    assert result.exit_code == 1 and "holds the G_ema weights, not G" in result.output
    result = cli("export", tiny_run_dir, tmp_path / "g.bin", ok=False)
    assert result.exit_code == 1 and "must end in .safetensors" in result.output


def test_export_takes_hf_sources_and_hub_folders_like_every_run_argument(
    tiny_run_dir, tmp_path, monkeypatch
):
    import shutil

    repo = tmp_path / "repo"
    cli("push", tiny_run_dir, "me/tiny", "--with-g", "--local-dir", repo)
    commit = "0123456789abcdef0123456789abcdef01234567"
    entry = tmp_path / "cache" / "models--me--tiny"  # the Hugging Face cache; HF_HUB_OFFLINE=1
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(commit)
    shutil.copytree(repo, entry / "snapshots" / commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    for ema, flags in ((True, []), (False, ["--no-ema"])):
        G_run, _ = load_generator(tiny_run_dir, ema=ema)
        for n, source in enumerate(("hf://me/tiny", "hf://me/tiny@main", repo)):
            out = tmp_path / f"{ema}-{n}.safetensors"
            assert f"wrote {out}" in cli("export", source, out, *flags).output
            G, cfg = load_generator(out, ema=ema)
            assert cfg.model.num_classes == K
            torch.testing.assert_close(class_grid(G, 2, seed=1), class_grid(G_run, 2, seed=1),
                                       atol=0, rtol=0)  # fmt: skip
    result = cli("export", "hf://me/other", tmp_path / "o.safetensors", ok=False)
    assert result.exit_code == 1 and "not in the local cache" in result.output
    assert len(result.output.strip().splitlines()) == 1
