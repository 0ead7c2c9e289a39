"""The model card (README.md) of an nlgan model repository, generated from the checkpoint.

It states what a reader needs to judge and reuse the weights: the architecture, the data, how
far it trained (and where it started: an import or ``train.init_from``), every measured score
with the protocol it was measured under, and a sample grid. Nothing in it is typed by hand, so
it cannot drift from the weights it describes. For imported weights it states only what the
import record knows: training settings the source's config did not give, and an EMA generator
the source did not have (G_ema copied from G), are "unknown" or "none", never nlgan's defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlgan.config import Config

_NOT_SCORES = {"n", "schema", "protocol", "versions", "measured"}


def _front_matter(cfg: Config) -> str:
    tags = ["gan", "nlgan", "image-generation", "self-attention"]
    if cfg.model.num_classes:
        tags.append("class-conditional")
    lines = ["---", "library_name: nlgan", "license: other", "tags:"]
    lines += [f"- {tag}" for tag in tags]
    return "\n".join([*lines, "---", ""])


def _architecture(cfg: Config) -> list[str]:
    m = cfg.model
    rows = [
        ("resolution", f"{m.resolution} x {m.resolution}, {m.img_channels} channel(s)"),
        ("classes", str(m.num_classes) if m.num_classes else "0 (unconditional)"),
        ("latent", f"z_dim {m.z_dim}" + (", hierarchical (a chunk per G block)" if m.hier else "")),
        ("widths", f"g_ch {m.g_ch}, d_ch {m.d_ch} (`{m.arch}` table)"),
        (
            "class conditioning",
            f"shared embedding of {m.shared_dim}"
            if m.shared_dim
            else "per-class BN gains and biases"
            if m.num_classes
            else "none",
        ),  # fmt: skip
        ("self-attention in G", ", ".join(f"{s}x{s}" for s in m.g_attn_resolutions) or "none"),
        (
            "self-attention in D",
            ", ".join(
                [f"{s}x{s}" for s in m.d_attn_resolutions]
                + [f"after block {b}" for b in m.d_attn_blocks]
            )
            or "none",
        ),  # fmt: skip
        ("spectral norm", f"G {'on' if m.g_sn else 'off'}, D {'on' if m.d_sn else 'off'}"),
    ]
    table = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    return ["## Architecture", "", "SAGAN / BigGAN-style residual GAN of nlgan, built from this "
            "`model` config:", "", *table, ""]  # fmt: skip


def _origin(state: dict[str, Any], cfg: Config) -> list[str]:
    data = cfg.data
    where = f" (`{Path(data.root).name}`)" if data.root else ""
    lines = ["## Data and training", ""]
    if data.name == "none":
        lines.append("- data: none recorded (the weights were imported, not trained here)")
    else:
        lines.append(f"- data: `{data.name}`{where}")
    lines.append(f"- steps: {int(state.get('step', 0))} generator steps")
    t = cfg.train
    imported = state.get("imported")
    if imported:
        lines.append(_imported_training(imported))
    else:
        lines.append(f"- training: {t.loss} loss, lr G {t.lr_g:g} / D {t.lr_d:g}, batch "
                     f"{t.batch_size} x {t.grad_accum}, EMA decay {t.ema_decay:g}")  # fmt: skip
    if imported:
        files = ", ".join(imported.get("files", []))
        lines.append(f"- imported from {imported.get('format')} weights ({files})")
    started = state.get("init_from")
    if started:
        source = Path(started["source"])
        name = source.parent.parent.name if source.parent.name == "checkpoints" else source.name
        lines.append(f"- fine-tuned from `{name}` (its step "
                     f"{started['step']}; class tables: {started['init_classes']})")  # fmt: skip
        if t.freeze_d_blocks:
            lines.append(f"- FreezeD: D's first {t.freeze_d_blocks} blocks kept fixed")
    return [*lines, ""]


def copied_ema(state: dict[str, Any]) -> bool:
    """True for an import whose source had no EMA generator (its G_ema is a copy of G)."""
    return "G_ema" in (state.get("imported") or {}).get("generated", [])


def _imported_training(imported: dict[str, Any]) -> str:
    """The source's training settings as far as the import record knows them (the run's own
    config may differ: ``--set`` at import, or nlgan's defaults where the source said nothing)."""
    known = imported.get("train_from_source") or {}
    unmapped = imported.get("train_unmapped") or {}

    def value(key: str) -> str:
        v = known.get(key)
        return "unknown" if v is None else f"{v:g}" if isinstance(v, float) else str(v)

    if "loss" in unmapped:
        loss = f"{unmapped['loss']} loss (not an nlgan loss)"
    else:
        loss = f"{known['loss']} loss" if "loss" in known else "loss unknown"
    batch = value("batch_size") + (f" x {known['grad_accum']}" if "grad_accum" in known else "")
    if "G_ema" in imported.get("generated", []):
        ema = "no EMA generator (G_ema is a copy of G)"
    else:
        ema = f"EMA decay {value('ema_decay')}"
    if not known and not unmapped:
        return f"- training at the source: unknown (no config imported); {ema}"
    return (f"- training at the source: {loss}, lr G {value('lr_g')} / D {value('lr_d')}, "
            f"batch {batch}, {ema}")  # fmt: skip


def _protocol(p: dict[str, Any]) -> str:
    backbone = p.get("backbone") or {}
    ref = p.get("reference") or {}
    parts = [f"n={p.get('n')}", f"seed={p.get('seed')}", f"truncation={p.get('truncation')}",
             f"resize={p.get('resize')}", f"backbone={backbone.get('name', backbone)}"]  # fmt: skip
    if ref:
        parts.append(f"reference={ref.get('kind')} {Path(str(ref.get('path', ''))).name} "
                     f"({ref.get('count')} images, split {ref.get('split')})")  # fmt: skip
    return ", ".join(str(x) for x in parts)


def _metrics(records: list[dict[str, Any]]) -> list[str]:
    lines = ["## Metrics", ""]
    if not records:
        return [*lines, "No scores were measured for these weights.", ""]
    lines += ["| measured | scores | protocol |", "|---|---|---|"]
    for r in records:
        scores = ", ".join(f"{k} {v:.4g}" for k, v in r.items()
                           if k not in _NOT_SCORES and isinstance(v, (int, float)))  # fmt: skip
        lines.append(f"| {r.get('measured')} | {scores} | {_protocol(r.get('protocol', {}))} |")
    return [*lines, "", "Full records, versions included: `metrics.json`.", ""]


def model_card(
    cfg: Config, state: dict[str, Any], records: list[dict[str, Any]], files: list[str], repo: str
) -> str:
    """The README.md text of the repository ``repo`` (user/name) holding ``files``."""
    body = [
        _front_matter(cfg),
        f"# {repo}",
        "",
        *_architecture(cfg),
        *_origin(state, cfg),
        *_metrics(records),
        "## Samples",
        "",
        "![samples](samples.png)",
        "",
        (
            "The generator (the source had no EMA generator; G_ema is a copy of G)"
            if copied_ema(state)
            else "The EMA generator"
        )
        + ", seed 0, one row per class (the first ten), eval-mode batch norm.",  # fmt: skip
        "",
        "## Use",
        "",
        "```python",
        "import nlgan",
        f'G, cfg = nlgan.load_generator("hf://{repo}")  # or a local folder with these files',
        "images = nlgan.generate(G, 16, seed=0)  # [16, C, H, W] in [0, 1]",
        "```",
        "",
        "```bash",
        f"nlgan sample hf://{repo} --grid grid.png",
        "```",
        "",
        f"Files: {', '.join(f'`{f}`' for f in files)}.",
        "",
    ]
    return "\n".join(body)
