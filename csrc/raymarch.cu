// CUDA kernels of the ray marcher: occupancy-grid marching into packed samples and fused
// front-to-back compositing with early termination (forward + backward). One thread per
// scene-ray; the per-ray bodies live in raymarch_core.h, shared with the CPU build.
// Bindings and argument checks: raymarch.cpp.

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include "raymarch_core.h"

namespace hf_raymarch {

namespace {

constexpr int kThreads = 128;

inline unsigned int blocks_for(int64_t n) {
  return (unsigned int)((n + kThreads - 1) / kThreads);
}

__global__ void march_count_kernel(MarchArgs a, const int64_t* __restrict__ rays,
                                   const int32_t* __restrict__ k_state,
                                   int64_t* __restrict__ counts, int64_t num) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= num) return;
  const int64_t sr = rays[i];
  int32_t k_end = 0;
  counts[i] = march_ray(a, sr, k_state[sr], &k_end, nullptr, nullptr, nullptr);
}

__global__ void march_fill_kernel(MarchArgs a, const int64_t* __restrict__ rays,
                                  int32_t* __restrict__ k_state,
                                  const int64_t* __restrict__ offsets, float* __restrict__ pts,
                                  float* __restrict__ ts, float* __restrict__ dts, int64_t num) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= num) return;
  const int64_t sr = rays[i];
  const int64_t off = offsets[i];
  int32_t k_end = 0;
  march_ray(a, sr, k_state[sr], &k_end, pts + 3 * off, ts + off, dts + off);
  k_state[sr] = k_end;
}

__global__ void composite_fwd_kernel(const float* __restrict__ sigma, const float* __restrict__ rgb,
                                     const float* __restrict__ ts, const float* __restrict__ dts,
                                     const int64_t* __restrict__ offsets,
                                     const int64_t* __restrict__ rays, float t_thresh,
                                     float* __restrict__ tau, float* __restrict__ acc_rgb,
                                     float* __restrict__ acc_depth,
                                     float* __restrict__ acc_opacity, float* __restrict__ trans,
                                     int64_t num) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= num) return;
  const int64_t sr = rays[i];
  composite_ray_fwd(sigma, rgb, ts, dts, offsets[i], offsets[i + 1], t_thresh, tau + sr,
                    acc_rgb + 3 * sr, acc_depth + sr, acc_opacity + sr, trans);
}

__global__ void composite_bwd_kernel(
    const float* __restrict__ g_rgb, const float* __restrict__ g_depth,
    const float* __restrict__ g_opacity, const float* __restrict__ sigma,
    const float* __restrict__ rgb, const float* __restrict__ ts, const float* __restrict__ dts,
    const int64_t* __restrict__ offsets, const int64_t* __restrict__ rays, float t_thresh,
    const float* __restrict__ out_rgb, const float* __restrict__ out_depth,
    const float* __restrict__ out_opacity, float* __restrict__ grad_sigma,
    float* __restrict__ grad_rgb, int64_t num) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= num) return;
  const int64_t sr = rays[i];
  composite_ray_bwd(sigma, rgb, ts, dts, offsets[i], offsets[i + 1], t_thresh, g_rgb + 3 * sr,
                    g_depth[sr], g_opacity[sr], out_rgb + 3 * sr, out_depth[sr],
                    out_opacity[sr], grad_sigma, grad_rgb);
}

}  // namespace

void march_count_cuda(const MarchArgs& a, const int64_t* rays, const int32_t* k_state,
                      int64_t* counts, int64_t num) {
  if (num == 0) return;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  march_count_kernel<<<blocks_for(num), kThreads, 0, stream>>>(a, rays, k_state, counts, num);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void march_fill_cuda(const MarchArgs& a, const int64_t* rays, int32_t* k_state,
                     const int64_t* offsets, float* pts, float* ts, float* dts, int64_t num) {
  if (num == 0) return;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  march_fill_kernel<<<blocks_for(num), kThreads, 0, stream>>>(a, rays, k_state, offsets, pts,
                                                               ts, dts, num);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void composite_fwd_cuda(const float* sigma, const float* rgb, const float* ts, const float* dts,
                        const int64_t* offsets, const int64_t* rays, float t_thresh, float* tau,
                        float* acc_rgb, float* acc_depth, float* acc_opacity, float* trans,
                        int64_t num) {
  if (num == 0) return;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  composite_fwd_kernel<<<blocks_for(num), kThreads, 0, stream>>>(
      sigma, rgb, ts, dts, offsets, rays, t_thresh, tau, acc_rgb, acc_depth, acc_opacity, trans,
      num);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void composite_bwd_cuda(const float* g_rgb, const float* g_depth, const float* g_opacity,
                        const float* sigma, const float* rgb, const float* ts, const float* dts,
                        const int64_t* offsets, const int64_t* rays, float t_thresh,
                        const float* out_rgb, const float* out_depth, const float* out_opacity,
                        float* grad_sigma, float* grad_rgb, int64_t num) {
  if (num == 0) return;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  composite_bwd_kernel<<<blocks_for(num), kThreads, 0, stream>>>(
      g_rgb, g_depth, g_opacity, sigma, rgb, ts, dts, offsets, rays, t_thresh, out_rgb,
      out_depth, out_opacity, grad_sigma, grad_rgb, num);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace hf_raymarch
