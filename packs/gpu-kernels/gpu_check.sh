#!/usr/bin/env bash
# One device call for the gpu-kernels pack (the device machine has PyTorch,
# Triton and numpy, no Rust and no bubblewrap): the TriMul harness on the full
# 18 + 7 shapes for the starter, a fused PyTorch kernel and a Triton kernel,
# each also timed by a plain CUDA-event loop; every hostile kernel; the wall
# time of one evaluation. Writes $OUT/trimul_gpu.json (or ./ without $OUT).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
nvidia-smi -L || true
python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__, "cuda", torch.cuda.is_available())'
python3 packs/gpu-kernels/trimul/gpu_check.py --out "${OUT:-.}" 2>&1 | tee "${OUT:-.}/trimul_gpu.log"
