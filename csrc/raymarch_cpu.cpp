// CPU-only build of the ray marcher (module hf_raymarch_cpu): the same per-ray bodies as the
// CUDA kernels, so machines without a GPU can test them against the pure-torch path.
#define HF_CPU_ONLY
#include "raymarch.cpp"
