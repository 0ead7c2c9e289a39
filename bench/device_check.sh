#!/usr/bin/env bash
# One GPU check, about 8 minutes in all: nlgan vs BigGAN-PyTorch img/s at 32 and 128 px in
# fp32 / bf16 / bf16+compile, the attention kernels that really run, the largest 128 px batch,
# and the data loader's img/s against what a step consumes. Writes $OUT/device_check.json and
# prints a short table.
#
#   BIGGAN_PYTORCH=path/to/BigGAN-PyTorch bash bench/device_check.sh      # (OUT defaults to ./)
#
# BigGAN-PyTorch's BigGAN.py, layers.py and sync_batchnorm/ must be in $BIGGAN_PYTORCH (default
# .external/BigGAN-PyTorch, git-ignored); without them only nlgan is measured. Each step has its
# own time limit, so one slow step cannot eat the others' time.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.}"
DEVICE="${DEVICE:-cuda}"
BIGGAN="${BIGGAN_PYTORCH:-.external/BigGAN-PyTorch}"
mkdir -p "$OUT/parts"
biggan=()
[ -f "$BIGGAN/BigGAN.py" ] && biggan=(--biggan "$BIGGAN")
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

run() {  # run NAME SECONDS COMMAND...: its output goes to the log, a failure does not stop the rest
  local name=$1 limit=$2
  shift 2
  echo "== $name" | tee -a "$OUT/device_check.log"
  timeout "$limit" "$@" >>"$OUT/device_check.log" 2>&1 || echo "   ($name: exit $?)" | tee -a "$OUT/device_check.log"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/parts/gpu.txt" 2>&1
run kernels-bf16 60 python bench/attention_kernels.py --device "$DEVICE" --dtype bf16 --size 64 --json "$OUT/parts/kernels_bf16.json"
run kernels-fp32 60 python bench/attention_kernels.py --device "$DEVICE" --dtype fp32 --size 64 --json "$OUT/parts/kernels_fp32.json"
run train-fp32 100 python bench/bench_throughput.py --device "$DEVICE" "${biggan[@]}" --rounds 3 --json "$OUT/parts/train_fp32.json"
run train-bf16 100 python bench/bench_throughput.py --device "$DEVICE" "${biggan[@]}" --rounds 3 --precision bf16 --max-batch --json "$OUT/parts/train_bf16.json"
run train-bf16-compile 180 python bench/bench_throughput.py --device "$DEVICE" "${biggan[@]}" --rounds 3 --precision bf16 --compile --json "$OUT/parts/train_bf16_compile.json"
run loader 60 python bench/bench_loader.py --images 2048 --workers 0,4,8,16 --resolution 128 --json "$OUT/parts/loader.json"

python - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
parts = {p.stem: json.loads(p.read_text()) for p in sorted((out / "parts").glob("*.json"))}
gpu = (out / "parts" / "gpu.txt")
parts["gpu"] = gpu.read_text().strip() if gpu.exists() else None
(out / "device_check.json").write_text(json.dumps(parts, indent=1))
print("\n".join(["", f"GPU: {parts['gpu']}", "",
                 "| run | preset | nlgan img/s | BigGAN-PyTorch img/s | time ratio | share of peak |",
                 "|---|---|---|---|---|---|"]))
for name in ("train_fp32", "train_bf16", "train_bf16_compile"):
    for r in parts.get(name, []):
        ips = r["img_per_s"]
        ratio = r.get("time_ratio_nlgan_over_biggan")
        share = r.get("share_of_peak")
        print(f"| {name[6:]} | {r['preset']} | {ips['nlgan']:.0f} | "
              f"{ips.get('BigGAN-PyTorch', float('nan')):.0f} | "
              f"{'' if ratio is None else f'{ratio:.2f}'} | "
              f"{'' if share is None else f'{100 * share:.1f}%'} |")
for name in ("kernels_bf16", "kernels_fp32"):
    k = parts.get(name)
    if k:
        print(f"attention {k['dtype']}: fused={k['fused']} math_fallback={k['math_fallback']} "
              f"{', '.join(k['attention_ops'][:4])}")
if "loader" in parts:
    print("loader img/s by workers:", parts["loader"]["img_per_s"])
PY
