// grad_table accumulation of grid_encode.cu's backward: one point-level's 8 corner values
// added into their table rows with the widest reductions the card has.
#pragma once

#include <cstdint>

#ifndef HD
#define HD __host__ __device__ __forceinline__
#endif

namespace hfgrid {

template <int F>
HD void add_scalars(float* row, const float (&v)[F]) {
#pragma unroll
  for (int f = 0; f < F; ++f) {
#ifdef __CUDA_ARCH__
    atomicAdd(row + f, v[f]);
#else
    row[f] += v[f];
#endif
  }
}

// row[0..F) += v: one vector reduction per row on sm_90 (v2 / v4 .f32), else scalar atomics.
// `red` (no return value) rather than atomicAdd's `atom`: nothing waits for the old value.
template <int F>
HD void add_row(float* row, const float (&v)[F]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (F == 2) {
    asm volatile("red.global.add.v2.f32 [%0], {%1, %2};" ::"l"(row), "f"(v[0]), "f"(v[1])
                 : "memory");
  } else if constexpr (F % 4 == 0) {
#pragma unroll
    for (int c = 0; c < F / 4; ++c)
      asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};" ::"l"(row + 4 * c),
                   "f"(v[4 * c]), "f"(v[4 * c + 1]), "f"(v[4 * c + 2]), "f"(v[4 * c + 3])
                   : "memory");
  } else {
    add_scalars<F>(row, v);
  }
#else
  add_scalars<F>(row, v);
#endif
}

// Rows r (even) and r + 1 of an F = 2 table as one aligned 16-byte red.v4.
HD void add_row_pair(float* rows, const float (&a)[2], const float (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};" ::"l"(rows), "f"(a[0]),
               "f"(a[1]), "f"(b[0]), "f"(b[1])
               : "memory");
#else
  add_row<2>(rows, a);
  add_row<2>(rows + 2, b);
#endif
}

// grad_table[row[k]] += v[k] for the 8 corners. pairs (F = 2): corners k, k + 1 differ in x
// only, which is often rows r, r + 1 (x has hash prime 1): then one 16-byte reduction.
template <int F>
HD void scatter_corners(float* grad_table, const uint32_t (&row)[8], const float (&v)[8][F],
                        bool pairs) {
  if constexpr (F == 2) {
    if (pairs) {
#pragma unroll
      for (int k = 0; k < 8; k += 2) {
        const uint32_t r = row[k];
        if ((r & 1u) == 0u && row[k + 1] == r + 1u) {
          add_row_pair(grad_table + static_cast<size_t>(r) * 2, v[k], v[k + 1]);
        } else {
          add_row<2>(grad_table + static_cast<size_t>(r) * 2, v[k]);
          add_row<2>(grad_table + static_cast<size_t>(row[k + 1]) * 2, v[k + 1]);
        }
      }
      return;
    }
  }
#pragma unroll
  for (int k = 0; k < 8; ++k) add_row<F>(grad_table + static_cast<size_t>(row[k]) * F, v[k]);
}

}  // namespace hfgrid
