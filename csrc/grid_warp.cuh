// Warp-level merging of grad_table contributions (backward of grid_encode.cu), device only.
//
// In the backward kernel, lanes j, j + G, j + 2G, ... of a warp (G = 2^group_log2 lanes per
// point) hold consecutive points at the same level. A NeRF batch arrives ray by ray, so
// consecutive samples often lie in the same cell of a coarse level; there, thousands of
// threads would otherwise add into the same few rows (same-address atomics serialise in L2).
// A segmented scan along each chain sums the 8 corner contributions of every run of equal
// cells, and only the run's last lane issues the atomics. Points in different cells, or on
// levels that do not merge, keep a run of one and behave exactly as without merging.
#pragma once

#include <cstdint>

namespace hfgrid {

// Key of a lane that must never merge (lanes differ, real cell keys stay below 2^63).
__device__ __forceinline__ uint64_t unique_key(uint32_t lane) {
  return (uint64_t{1} << 63) | lane;
}

// Cell id inside one level: base coordinates < 2^20 (make_params checks res < 2^20).
__device__ __forceinline__ uint64_t cell_key(const uint32_t (&base)[3]) {
  return uint64_t{base[0]} | (uint64_t{base[1]} << 21) | (uint64_t{base[2]} << 42);
}

// Segmented inclusive sum of v over runs of equal `key` along the lane chain of step `stride`
// (all 32 lanes must call it). Returns whether this lane ends its run: its v is then the run's
// sum. Hillis-Steele scan: after the step of distance d every lane has summed the run members
// within d lanes before it, and a set flag stops it at the run's head.
template <int K, int F>
__device__ __forceinline__ bool merge_runs(float (&v)[K][F], uint64_t key, uint32_t stride) {
  constexpr unsigned kAll = 0xffffffffu;
  const uint32_t lane = threadIdx.x & 31u;
  const uint64_t prev = __shfl_up_sync(kAll, key, stride);
  const uint64_t next = __shfl_down_sync(kAll, key, stride);
  int head = (lane < stride || prev != key) ? 1 : 0;
  for (uint32_t d = stride; d < 32u; d <<= 1) {
    const int other_head = __shfl_up_sync(kAll, head, d);
    float other[K][F];
#pragma unroll
    for (int k = 0; k < K; ++k) {
#pragma unroll
      for (int f = 0; f < F; ++f) other[k][f] = __shfl_up_sync(kAll, v[k][f], d);
    }
    if (lane >= d && !head) {
#pragma unroll
      for (int k = 0; k < K; ++k) {
#pragma unroll
        for (int f = 0; f < F; ++f) v[k][f] += other[k][f];
      }
      head = other_head;
    }
  }
  return lane + stride >= 32u || next != key;
}

}  // namespace hfgrid
