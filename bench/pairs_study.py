"""Where does attention help on pairs? SAGAN's placement question and the non-local paper's
affinity question, measured with the exact ruler (docs/pairs.md).

Every run is the ``pairs32`` preset with the same everything (``STUDY`` overrides: steps, ...)
except the row's overrides and ``train.seed``. One run at a time per call: train, score the final
EMA generator's 1,000 samples (latent i, class i mod 4) with ``--metrics pairs``, and write
``bench/results/pairs/<row>-s<seed>.json``. A run whose JSON exists is skipped, so the study
resumes across sessions; several calls at once (at most two on a 2-core machine) share the
pending runs, each claiming its next one with a file in the runs folder. The order puts the
most informative runs first: every placement row with seed 0, then seed 1, ..., then the
G-only / D-only rows at the best size and the four affinities at the best placement (those
need rows of the placement table done).

    python bench/pairs_study.py                      # run what is pending, in order
    nice -n 2 python bench/pairs_study.py & nice -n 2 python bench/pairs_study.py  # two at once
    python bench/pairs_study.py --rows 16,none       # only those rows' pending runs
    python bench/pairs_study.py --table              # the table (mean [min, max] over seeds)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "pairs"
IMAGES = ROOT / "docs" / "img" / "pairs"
RUNS = Path(os.environ.get("PAIRS_STUDY_RUNS", "/tmp/pairs-study"))
N_SAMPLES = 1000
# The same for every row: the study's budget (fixed steps) on top of the preset.
STUDY = ("train.steps=4500", "train.ckpt_every=1000", "train.sample_every=0", "train.log_every=50")
# D at a 32x32 input has no 32x32 map (its first block halves it), so "32" puts G's attention at
# 32 and D's at its largest map, 16.
PLACEMENT = {
    "none": ((), ()),
    "8": ((8,), (8,)),
    "16": ((16,), (16,)),
    "32": ((32,), (16,)),
    "16+32": ((16, 32), (16,)),
}
AFFINITIES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")
SEEDS = {"placement": (0, 1, 2), "side": (0, 1), "affinity": (0, 1)}
HEADLINE = "pairs_twin"  # the score that picks the best placement


def _attn(g: tuple[int, ...], d: tuple[int, ...]) -> list[str]:
    fmt = lambda sizes: "[" + ",".join(str(s) for s in sizes) + "]"  # noqa: E731
    return [f"model.g_attn_resolutions={fmt(g)}", f"model.d_attn_resolutions={fmt(d)}"]


def load_results() -> dict[tuple[str, int], dict]:
    """Every finished run: (row, seed) -> its JSON (runs of an earlier budget live in
    sub-folders, e.g. ``pilot-600/``, and are not read)."""
    out = {}
    for path in sorted(RESULTS.glob("*.json")):
        record = json.loads(path.read_text())
        out[(record["row"], record["seed"])] = record
    return out


def best_placement(results: dict[tuple[str, int], dict]) -> str | None:
    """The attention placement (not "none") with the highest mean twin share over its seeds."""
    means = {}
    for row in PLACEMENT:
        values = [r["scores"][HEADLINE] for (name, _), r in results.items() if name == row]
        if values and row != "none":
            means[row] = sum(values) / len(values)
    return max(means, key=means.get) if means else None


def rows(results: dict[tuple[str, int], dict]) -> list[tuple[str, list[str], tuple[int, ...]]]:
    """(row, overrides, seeds) of every row that can be run now, in the study's order."""
    out = [(name, _attn(*place), SEEDS["placement"]) for name, place in PLACEMENT.items()]
    best = best_placement(results)
    if best is None:
        return out
    g, d = PLACEMENT[best]
    out.append((f"G-only@{best}", _attn(g, ()), SEEDS["side"]))
    out.append((f"D-only@{best}", _attn((), d), SEEDS["side"]))
    for kind in AFFINITIES:
        out.append(
            (f"{kind}@{best}", [*_attn(g, d), f"model.attn_affinity={kind}"], SEEDS["affinity"])
        )
    return out


def pending(results: dict[tuple[str, int], dict]) -> list[tuple[str, list[str], int]]:
    """The runs still to do, seed-major within each group of rows (placement rows first)."""
    todo = []
    listed = rows(results)
    for group in (listed[: len(PLACEMENT)], listed[len(PLACEMENT) :]):
        for seed in range(3):
            for name, overrides, seeds in group:
                if seed in seeds and (name, seed) not in results:
                    todo.append((name, overrides, seed))
    return todo


def config_mismatch(run_dir: Path, sets: list[str]) -> list[str]:
    """The config keys where a run folder's saved config differs from ``pairs32`` + ``sets``
    (empty when the folder has no config yet): a folder trained under another budget or recipe
    must be neither resumed nor scored as this study's run."""
    from nlgan.config.loading import config_to_dict, load_config, load_preset
    from nlgan.report.gather import flatten

    saved = run_dir / "config.yaml"
    if not saved.is_file():
        return []
    want = flatten(config_to_dict(load_preset("pairs32", sets)))
    have = flatten(config_to_dict(load_config(saved)))
    return sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))


def _refuse_mismatch(run_dir: Path, sets: list[str]) -> None:
    """Stop in one line if ``run_dir`` holds a run of another config (see config_mismatch)."""
    keys = config_mismatch(run_dir, sets)
    if keys:
        raise SystemExit(
            f"{run_dir}: trained with another config ({', '.join(keys[:4])} differ); "
            "move the folder aside (or set PAIRS_STUDY_RUNS) and run again"
        )


def run_one(name: str, overrides: list[str], seed: int) -> dict:
    """Train one row x seed, score its EMA generator, save its JSON (and the row's grid)."""
    run_dir = RUNS / f"{name}-s{seed}"
    sets = [*STUDY, *overrides, f"train.seed={seed}"]
    _refuse_mismatch(run_dir, sets)
    command = [sys.executable, "-m", "nlgan.cli", "train", "pairs32", "--out", str(run_dir)]
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
        command = [sys.executable, "-m", "nlgan.cli", "train", "--resume", str(run_dir)]
    for item in sets:
        command += ["--set", item]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    scores = score(run_dir, name if seed == 0 else None)
    steps = int(STUDY[0].split("=")[1])
    record = {
        "row": name, "seed": seed, "overrides": sets, "steps": steps, "n": N_SAMPLES,
        "wall_s": round(wall, 1), "ms_per_step": round(1000 * wall / steps, 1),
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "scores": scores,
    }  # fmt: skip
    _save(record)
    return record


def _save(record: dict) -> None:
    """Write a run's JSON atomically (a killed study never leaves half a file)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{record['row']}-s{record['seed']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def score(run_dir: Path, grid_name: str | None) -> dict:
    """The ruler's scores of a run's final EMA generator (and its sample grid, if named)."""
    import torch

    from nlgan.metrics.scoring import evaluate
    from nlgan.metrics.sources import generator_source
    from nlgan.sampling import class_grid, load_generator, save_grid

    torch.set_num_threads(1)  # a shared CPU: more threads only spin against the other runs
    G, cfg = load_generator(run_dir, ema=True, device="cpu")
    source = generator_source(G, N_SAMPLES, seed=0, description=str(run_dir))
    options = {"pairs_seed": cfg.data.seed, "pairs_size": cfg.data.size}
    scores = evaluate(source, metrics="pairs", n=N_SAMPLES, **options)
    if grid_name is not None:
        IMAGES.mkdir(parents=True, exist_ok=True)
        images = class_grid(G, 8, seed=0, classes=[0, 1, 2, 3])
        save_grid(images, IMAGES / f"{grid_name}.png", nrow=8)
    return {k: v for k, v in scores.items() if k != "n"}


def attention_figure(run: Path, out: Path, tries: int = 1000) -> str:
    """``nlgan attention`` for the first sample (over seeds) that the ruler reads as a twin (else
    as valid), with the query on the centre of its left object: does it look at the other one?"""
    import torch

    from nlgan.metrics.pairs_ruler import measure, twins
    from nlgan.sampling import forward_images, latents_for, load_generator

    G, cfg = load_generator(run, ema=True, device="cpu")
    found = {}
    for seed in range(tries):
        z, y = latents_for(0, 1, cfg.model.z_dim, cfg.model.num_classes, seed)
        with torch.no_grad():
            image = forward_images(G, z, y)  # [1, 3, 32, 32] in [0, 1]
        m = measure((image * 255).round().to(torch.uint8).numpy())
        if twins(m)[0]:
            found["twin"] = (seed, m)
            break
        if m.valid.all(1)[0] and "valid" not in found:
            found["valid"] = (seed, m)
    if not found:
        return f"no valid sample among the first {tries}"
    kind = "twin" if "twin" in found else "valid"
    seed, m = found[kind]
    x, yy = (m.x[0, 0] + 0.5) / 32, (m.y[0, 0] + 0.5) / 32  # pixel centre -> image fraction
    command = [
        sys.executable,
        "-m",
        "nlgan.cli",
        "attention",
        str(run),
        "--grid",
        str(out),
        "--n",
        "1",
        "--seed",
        str(seed),
        "--queries",
        f"{x:.3f},{yy:.3f}",
        "--overwrite",
    ]
    subprocess.run(command, check=True, cwd=ROOT)  # fmt: skip
    return f"seed {seed} ({kind} sample), query ({x:.3f}, {yy:.3f}) on the left object"


def _claim(run: tuple[str, list[str], int]) -> bool:
    """Take a run for this call (False when another call has it): an exclusive claim file."""
    RUNS.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(RUNS / f"{run[0]}-s{run[2]}.claim", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def next_run(only: set[str] | frozenset = frozenset()) -> tuple[str, list[str], int] | None:
    """Claim the next pending run (of the rows in ``only``, if given) for this call."""
    wanted = [run for run in pending(load_results()) if not only or run[0] in only]
    return next((run for run in wanted if _claim(run)), None)


def table(results: dict[tuple[str, int], dict]) -> str:
    """Markdown: one line per row, mean [min, max] over its seeds."""
    keys = [
        ("twin", "pairs_twin"), ("valid", "pairs_valid"), ("class", "pairs_class"),
        ("asym.", "pairs_asymmetry"), ("FD / floor", "pairs_fd_ratio"),
        ("memorised", "pairs_memorised"),
    ]  # fmt: skip
    head = "| row | seeds | " + " | ".join(k for k, _ in keys) + " | ms/step |"
    lines = [head, "|" + "---|" * (len(keys) + 3)]
    for name, _, _ in rows(results):
        done = [r for (row, _), r in sorted(results.items()) if row == name]
        if not done:
            continue
        cells = []
        for _, key in [*keys, ("", "ms_per_step")]:
            values = [r[key] if key == "ms_per_step" else r["scores"][key] for r in done]
            mean = sum(values) / len(values)
            fmt = ".0f" if key == "ms_per_step" else ".2f" if "ratio" in key else ".3f"
            span = f" [{min(values):{fmt}}, {max(values):{fmt}}]" if len(values) > 1 else ""
            cells.append(f"{mean:{fmt}}{span}")
        seeds = ",".join(str(r["seed"]) for r in done)
        lines.append(f"| {name} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the pending runs (this worker's share), or print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="print the table and stop")
    parser.add_argument("--max-runs", type=int, default=0, help="stop after this many (0 = all)")
    parser.add_argument("--attention", default="", help="RUN: draw its attention on a twin")
    parser.add_argument("--rows", default="", help="only these rows, e.g. 16,none (default: all)")
    parser.add_argument(
        "--rescore", action="store_true",
        help="score every finished run again (after a change of the ruler) and stop",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.table:
        print(table(load_results()))
        return 0
    if args.attention:
        print(attention_figure(Path(args.attention), IMAGES / "attention.png"))
        return 0
    if args.rescore:
        for (name, seed), record in load_results().items():
            _refuse_mismatch(RUNS / f"{name}-s{seed}", record["overrides"])
            record["scores"] = score(RUNS / f"{name}-s{seed}", name if seed == 0 else None)
            _save(record)
            print(f"rescored {name} seed {seed}", flush=True)
        return 0
    only = {r.strip() for r in args.rows.split(",") if r.strip()}
    known = [name for name, _, _ in rows(load_results())]
    if only - set(known):
        unknown = ", ".join(sorted(only - set(known)))
        parser.error(f"--rows {unknown}: no such row now (choose from {', '.join(known)})")
    done = 0
    while not args.max_runs or done < args.max_runs:
        claimed = next_run(only)
        if claimed is None:
            break
        name, overrides, seed = claimed
        print(f"run {name} seed {seed}", flush=True)
        record = run_one(name, overrides, seed)
        print(json.dumps({k: record[k] for k in ("row", "seed", "wall_s", "scores")}), flush=True)
        done += 1
    print(table(load_results()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
