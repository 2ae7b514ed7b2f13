#!/usr/bin/env bash
# Build the CUDA `llm` benchmark on a machine with no GPU and no CUDA toolkit,
# for gpu/check.sh to run on a device machine (which has CUDA 13 but no Rust).
#
# What a build needs and where it comes from here:
# - nvcc 13.0 and its headers: the NVIDIA wheels from the Python package
#   registry (nvcc, nvvm, crt, cudart, cccl), unpacked into $CU (candle's
#   kernels are compiled to PTX and a static library for sm_90 = H100/H200;
#   CUDA_COMPUTE_CAP overrides);
# - the driver and cuBLAS/cuRAND/NVRTC libraries to link against: not here,
#   so empty libraries with the right sonames stand in at link time and the
#   symbols are left for the loader (--unresolved-symbols=ignore-all); the
#   binary then resolves them from the device's real libraries at start-up.
# The binary lands in gpu/bin/llm (ignored by git; carry it with `gpu/bin`).
set -euo pipefail
cd "$(dirname "$0")/.."
CU=${CU:-/opt/cu}
if [ ! -x "$CU/nvidia/cu13/bin/nvcc" ]; then
    wheels=$(mktemp -d)
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_28_x86_64 --platform manylinux2010_x86_64 --platform manylinux_2_12_x86_64 -d "$wheels" \
        nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-cuda-runtime==13.0.96 \
        "nvidia-cuda-cccl>=13.0,<13.1"
    mkdir -p "$CU"
    for w in "$wheels"/*.whl; do unzip -qo "$w" -d "$CU"; done
    chmod +x "$CU"/nvidia/cu13/bin/* "$CU"/nvidia/cu13/nvvm/bin/*
fi
mkdir -p "$CU/stubs"
echo > "$CU/stubs/empty.c"
for pair in cuda:libcuda.so.1 cublas:libcublas.so.13 cublasLt:libcublasLt.so.13 curand:libcurand.so.10 nvrtc:libnvrtc.so.13; do
    gcc -shared -fPIC -o "$CU/stubs/lib${pair%%:*}.so" -Wl,-soname,"${pair#*:}" "$CU/stubs/empty.c"
done
ln -sf "$CU/nvidia/cu13/lib/libcudart.so.13" "$CU/stubs/libcudart.so"
export PATH="$CU/nvidia/cu13/bin:$PATH" CUDA_ROOT="$CU/nvidia/cu13" CUDA_PATH="$CU/nvidia/cu13"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90} CUDARC_CUDA_VERSION=13000 LIBRARY_PATH="$CU/stubs"
export RUSTFLAGS="-L native=$CU/stubs -C link-arg=-Wl,--unresolved-symbols=ignore-all"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cuda}
# The stand-ins define nothing, so --as-needed would drop them: the bench's own
# link names them again inside --no-as-needed, so the binary records them (not
# RUSTFLAGS: build scripts would then need the libraries to start).
cargo rustc --release --locked -p discover --features cuda --bench llm -- \
    -C link-args=-Wl,--push-state,--no-as-needed,-lcuda,-lcublas,-lcublasLt,-lcurand,-lnvrtc,--pop-state
bin=$(ls -t "$CARGO_TARGET_DIR"/release/deps/llm-* | grep -v '\.d$' | head -1)
mkdir -p gpu/bin
cp "$bin" gpu/bin/llm
strip gpu/bin/llm
# 58 MB, mostly candle's PTX text: compressed to fit a device call's 64 MiB.
xz -T2 -6 -f gpu/bin/llm
ls -la gpu/bin/llm.xz
