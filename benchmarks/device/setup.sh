# Source at the start of every command on the GPU machine (no registry there):
#   source benchmarks/device/setup.sh
# Installs the carried wheels (wheels/) and points hyperfields at the carried text cache.
python -m pip install --no-deps --no-index -q wheels/*.whl 2>&1 | grep -v "WARNING: Running pip" | tail -2
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0
export HYPERFIELDS_TEXT_CACHE="$PWD/.device/text_cache" HYPERFIELDS_HOME="$PWD/.gpu_home"
export HF_HUB_OFFLINE=1
mkdir -p "$HYPERFIELDS_HOME"
nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv,noheader
