#!/usr/bin/env bash
# The GPU check (issue 14): one script, run on the GPU machine from the folder `cargo xtask
# gpu-bundle` makes (a stripped `tch` segsweep, this script, the bench script, the configs).
# It needs only the machine's Python with PyTorch 2.11 (whose libtorch the binary loads) and
# prints one table: the card, training and inference steps of the default 2D and 3D U-Net on
# `tch` against PyTorch eager on the same card, a whole `segsweep run` of experiments/demo_2d.yaml
# (wall time, IoU, share of training time spent waiting for data) and the experiments/mito.yaml
# sweep's wall time (40 runs, 5 trainings).
#
#   bash gpu-bundle/xtask/bench/gpu_check.sh [PYTHON]
#
# DEVICE (default tch:cuda:0) and TORCH_DEVICE (cuda) choose the devices; QUICK=1 trims every
# part (2 steps, 2 epochs, 2 run_ids, 1 epoch in the sweep) to prove the script on a CPU.
set -uo pipefail
cd "$(dirname "$0")/../.."
python=${1:-python3}
device=${DEVICE:-tch:cuda:0}
torch_device=${TORCH_DEVICE:-cuda}
binary=$PWD/segsweep
[ -x "$binary" ] || { echo "$binary is missing: run the copy of this script in the folder \`cargo xtask gpu-bundle\` makes"; exit 2; }
quick=${QUICK:-0}
if [ "$quick" = 1 ]; then steps=2 warmup=1 epochs=2; else steps=${STEPS:-20} warmup=${WARMUP:-5} epochs=; fi
out=$PWD/gpu-check-out
rm -rf "$out" && mkdir -p "$out"
started=$(date +%s)

# libtorch comes from the machine's PyTorch: its lib/ folder, whose libraries find CUDA's.
torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') || {
  echo "no PyTorch in $python: the tch binary needs PyTorch 2.11's libtorch"; exit 2; }
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$python" -c 'import torch; print("torch:", torch.__version__, "| cuda:", torch.cuda.is_available(), "|", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no card")'
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/card: /'
echo "segsweep: $("$binary" --version 2>&1) on $device; $(nproc) cores"

note() { echo "$*" >>"$out/notes"; }
run() { # label file command…: stdout to file, stderr beside it; a failure is noted, not fatal
  local label=$1 file=$2; shift 2
  if ! "$@" >"$out/$file" 2>"$out/$file.err"; then
    note "$label failed: $(tail -n 3 "$out/$file.err" | tr '\n' ' ')"
  fi
}

# 1. Model steps: PyTorch eager against segsweep on the same card.
two_d=(--config templates/semantic_segmentation/2d_semantic_segmentation.yaml
  --set "DATA.PATCH_SIZE=(256, 256, 1)" --set TRAIN.BATCH_SIZE=4 --set TRAIN.LR=1e-3 --set MODEL.ARCHITECTURE=unet)
three_d=(--config templates/semantic_segmentation/3d_semantic_segmentation.yaml
  --set "DATA.PATCH_SIZE=(32, 128, 128, 1)" --set TRAIN.BATCH_SIZE=1 --set TRAIN.LR=1e-3 --set MODEL.ARCHITECTURE=unet)
for ndim in 2 3; do
  if [ "$ndim" = 2 ]; then args=("${two_d[@]}"); shape=(--batch 4 --patch 1 256 256); else
    args=("${three_d[@]}"); shape=(--batch 1 --patch 32 128 128); fi
  run "PyTorch ${ndim}D" "torch$ndim.json" "$python" xtask/bench/unet_pytorch.py --ndim "$ndim" "${shape[@]}" \
    --device "$torch_device" --warmup "$warmup" --steps "$steps"
  run "segsweep ${ndim}D" "tch$ndim.json" "$binary" bench "${args[@]}" --device "$device" --warmup "$warmup" --steps "$steps"
done

# 2. The whole job on the demo config and its synthetic set, timed from the outside.
"$binary" synth --out "$out/data" >/dev/null 2>"$out/synth.err" || note "synth failed: $(tail -n 2 "$out/synth.err")"
demo=(run --config experiments/demo_2d.yaml --result_dir "$out/demo" --name demo --run_id 1 --device "$device"
  --set "DATA.TRAIN.PATH=$out/data/train/x" --set "DATA.TRAIN.GT_PATH=$out/data/train/y"
  --set "DATA.TEST.PATH=$out/data/test/x" --set "DATA.TEST.GT_PATH=$out/data/test/y")
[ -n "$epochs" ] && demo+=(--set "TRAIN.EPOCHS=$epochs")
t0=$(date +%s.%N)
run "segsweep run demo_2d" demo.log "$binary" "${demo[@]}"
awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }' >"$out/demo.seconds"

# 3. The mito sweep: 40 runs, 5 trainings, the inference variants sharing each training.
manifest=experiments/mito.yaml
if [ "$quick" = 1 ]; then
  manifest=experiments/mito_quick.yaml
  sed -e 's/^  TRAIN.EPOCHS: .*/  TRAIN.EPOCHS: 1/' -e 's/^  run_id: .*/  run_id: [1, 2]/' experiments/mito.yaml >"$manifest"
fi
rm -rf results/mito
t0=$(date +%s.%N)
run "segsweep sweep mito" sweep.log "$binary" sweep "$manifest" --device "$device" --jobs "${JOBS:-4}"
awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }' >"$out/sweep.seconds"
runs=$(grep -c "run_id" "$out/sweep.log" || true)

"$python" - "$out" "$device" "$steps" "$warmup" "$manifest" "$runs" <<'EOF'
import csv, glob, json, os, re, sys
out, device, steps, warmup, manifest, runs = sys.argv[1:7]
def load(name):
    path = os.path.join(out, name)
    lines = [l for l in open(path)] if os.path.exists(path) else []
    lines = [l for l in lines if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None
def seconds(name):
    try:
        return float(open(os.path.join(out, name)).read())
    except (OSError, ValueError):
        return None
print(f"\n| what | PyTorch ms | segsweep `{device}` ms | ratio |")
print("|---|---|---|---|")
for ndim, label in [(2, "2D U-Net 4×256×256"), (3, "3D U-Net 1×32×128×128")]:
    base, ours = load(f"torch{ndim}.json"), load(f"tch{ndim}.json")
    for key, what in [("train_median_ms", "training step"), ("infer_median_ms", "inference step")]:
        b = base[key] if base else None
        o = ours[key] if ours else None
        ratio = f"{o / b:.2f}×" if b and o else "–"
        fmt = lambda v: f"{v:.1f}" if v is not None else "failed"
        print(f"| {label} {what} (median of {steps} after {warmup}) | {fmt(b)} | {fmt(o)} | {ratio} |")
log = open(os.path.join(out, "demo.log")).read() if os.path.exists(os.path.join(out, "demo.log")) else ""
iou = re.findall(r"Test Foreground IoU \(merge patches\): ([0-9.]+)", log)
wait = total = 0.0
for path in glob.glob(os.path.join(out, "demo", "**", "*_train_log.csv"), recursive=True):
    for row in csv.DictReader(open(path)):
        wait += float(row["data_wait_seconds"]); total += float(row["seconds"])
demo_s = seconds("demo.seconds")
print(f"\n| job | wall s | result |")
print("|---|---|---|")
share = f"{100 * wait / total:.1f} % of {total:.1f} s training waiting for data" if total else "no training log"
print(f"| `segsweep run` experiments/demo_2d.yaml | {demo_s:.1f} | IoU (merge patches) {iou[-1] if iou else 'none'}; {share} |" if demo_s else "| demo | failed | |")
sweep_s = seconds("sweep.seconds")
print(f"| `segsweep sweep` {manifest} | {sweep_s:.1f} | {runs} run lines |" if sweep_s else "| sweep | failed | |")
EOF
[ -f "$out/notes" ] && { echo; echo "problems:"; cat "$out/notes"; }
echo "gpu check: $(( $(date +%s) - started )) s in all"
