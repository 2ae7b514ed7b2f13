#!/usr/bin/env bash
# Every GPU measurement of the project, in one device call (the device
# machines have CUDA, PyTorch, Triton, transformers and peft, but no Rust):
#
#   1. the local LLM runtime on CUDA: the `llm` benchmark, built with
#      `--features cuda` on a build machine (gpu/build-cuda.sh) and carried
#      here as gpu/bin/llm, on the tiny, small and Qwen2.5-0.5B shapes;
#   2. the same measurements with transformers + peft (gpu/llm_transformers.py),
#      the baseline the Rust figures are read against;
#   3. the TriMul pack: packs/gpu-kernels/trimul/gpu_check.py with the
#      arguments in $TRIMUL_ARGS (default: every kernel, every hostile kernel).
#
# Each part has its own time limit, logs to $OUT (or ./gpu-out) and a failed
# part does not stop the next. Usage on the device:
#   TRIMUL_ARGS="--kernels triton --plain-only" bash gpu/check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-out}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python3 -c 'import torch, triton, transformers, peft; print("torch", torch.__version__, "triton", triton.__version__, "transformers", transformers.__version__, "peft", peft.__version__)' || true

part() { # name seconds command...
    local name=$1 seconds=$2; shift 2
    echo "== $name (limit ${seconds} s)"
    local t0=$SECONDS
    timeout "$seconds" "$@" 2>&1 | tee "$out/$name.log"
    echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s"
}

[ -f gpu/bin/llm.xz ] && xz -dkf gpu/bin/llm.xz && chmod +x gpu/bin/llm
if [ -x gpu/bin/llm ]; then
    export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}
    part llm_candle "${LLM_SECONDS:-150}" gpu/bin/llm --models "${LLM_MODELS:-tiny,small,0.5b}"
else
    echo "== llm_candle: gpu/bin/llm is missing (build it with gpu/build-cuda.sh and carry gpu/bin)"
fi
part llm_transformers "${HF_SECONDS:-120}" python3 gpu/llm_transformers.py --out "$out"
# shellcheck disable=SC2086
part trimul "${TRIMUL_SECONDS:-480}" python3 packs/gpu-kernels/trimul/gpu_check.py --out "$out" ${TRIMUL_ARGS:-}
