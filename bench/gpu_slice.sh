#!/usr/bin/env bash
# One CUDA GPU, <= 8 minutes: time a slice of each paper profile (MixMNIST and MixCIFAR60) at the
# paper's sizes and extrapolate the wall of a full run of every strategy (bench/gpu_slice.py).
# Run from the repository root after the two set-up commands of README; commit the JSON it writes.
#   bash bench/gpu_slice.sh [out.json]     (without a GPU it runs the same path at reduced sizes)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .venv ] && . .venv/bin/activate
out="${1:-results/gpu-slice/$(python -c 'import torch; print("gpu" if torch.cuda.is_available() else "cpu")').json}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU: the CPU path at reduced sizes"
timeout 480 python -m bench.gpu_slice --out "$out"
