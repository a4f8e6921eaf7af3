#!/usr/bin/env bash
# The GPU benchmark: one command that prints the step table on a GPU machine, where there is no
# Rust toolchain. Build the binary on any Linux machine and carry it over:
#
#   cargo build --features vulkan            # pure Rust; the card's normal driver at run time
#   cp "$CARGO_TARGET_DIR/debug/segsweep" gpu-bench/segsweep-vulkan
#   xtask/bench/gpu.sh gpu-bench/segsweep-vulkan [python3-with-torch]
#
# It times the default 2D U-Net (batch 4 × 256×256) and 3D U-Net (batch 1 × 32×128×128) on
# `vulkan` and, when the python has torch with CUDA, the same U-Net in PyTorch on the same card
# (xtask/bench/unet_pytorch.py), and prints every figure with its ratio against PyTorch's.
# A `tch` binary (built against PyTorch 2.11.0) can be passed as a second binary with TCH_BINARY=…
# (and LD_LIBRARY_PATH pointing at torch's lib/).
set -uo pipefail
cd "$(dirname "$0")/../.."
binary=${1:?usage: xtask/bench/gpu.sh SEGSWEEP_BINARY [PYTHON]}
python=${2:-python3}
steps=${STEPS:-20}
warmup=${WARMUP:-5}
out=$(mktemp -d)

two_d=(--config templates/semantic_segmentation/2d_semantic_segmentation.yaml
  --set "DATA.PATCH_SIZE=(256, 256, 1)" --set TRAIN.BATCH_SIZE=4 --set TRAIN.LR=1e-3 --set MODEL.ARCHITECTURE=unet)
three_d=(--config templates/semantic_segmentation/3d_semantic_segmentation.yaml
  --set "DATA.PATCH_SIZE=(32, 128, 128, 1)" --set TRAIN.BATCH_SIZE=1 --set TRAIN.LR=1e-3 --set MODEL.ARCHITECTURE=unet)

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | sed 's/^/card: /'
"$python" - <<'EOF' 2>/dev/null || true
import torch; print(f"torch: {torch.__version__}, cuda: {torch.cuda.is_available()}")
EOF

run() { # label file command…
  local label=$1 file=$2; shift 2
  if "$@" >"$out/$file" 2>"$out/$file.err"; then :; else
    echo "$label failed: $(tail -n 3 "$out/$file.err" | tr '\n' ' ')"
    rm -f "$out/$file"
  fi
}

for ndim in 2 3; do
  if [ "$ndim" = 2 ]; then args=("${two_d[@]}"); shape=(--batch 4 --patch 1 256 256); else
    args=("${three_d[@]}"); shape=(--batch 1 --patch 32 128 128); fi
  run "PyTorch ${ndim}D" "torch$ndim.json" "$python" xtask/bench/unet_pytorch.py --ndim "$ndim" "${shape[@]}" \
    --device cuda --warmup "$warmup" --steps "$steps"
  run "vulkan ${ndim}D" "vulkan$ndim.json" "$binary" bench "${args[@]}" --device vulkan --warmup "$warmup" --steps "$steps"
  if [ -n "${TCH_BINARY:-}" ]; then
    run "tch ${ndim}D" "tch$ndim.json" "$TCH_BINARY" bench "${args[@]}" --device tch:cuda:0 --warmup "$warmup" --steps "$steps"
  fi
done

"$python" - "$out" "$steps" "$warmup" <<'EOF'
import json, os, sys
out, steps, warmup = sys.argv[1], sys.argv[2], sys.argv[3]
def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return None
    lines = [l for l in open(path) if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None
print(f"\nbench gpu — median ms over {steps} timed steps after {warmup} warm-up")
print("| model | backend | train step ms | vs PyTorch | inference step ms | vs PyTorch |")
print("|---|---|---|---|---|---|")
for ndim, label in [(2, "2D U-Net 4×256×256"), (3, "3D U-Net 1×32×128×128")]:
    base = load(f"torch{ndim}.json")
    for name, backend in [(f"torch{ndim}.json", "PyTorch (cuda)"), (f"vulkan{ndim}.json", "segsweep `vulkan`"), (f"tch{ndim}.json", "segsweep `tch:cuda:0`")]:
        r = load(name)
        if r is None:
            continue
        if backend.startswith("PyTorch"):
            backend = f"PyTorch {r.get('torch', '')} (cuda)"
        def ratio(key):
            return f"{r[key] / base[key]:.2f}×" if base else "–"
        print(f"| {label} | {backend} | {r['train_median_ms']:.1f} | {ratio('train_median_ms')} | {r['infer_median_ms']:.1f} | {ratio('infer_median_ms')} |")
EOF
