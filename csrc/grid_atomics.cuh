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

// Where the x-neighbour rows of one corner pair go as a single 16-byte reduction (F = 2).
// Rows r, r ^ 1 share an aligned 16-byte block of grad_table: on hashed levels that is every
// even x (x has hash prime 1, so rows x ^ C and (x + 1) ^ C differ in bit 0 only), in either
// order. Dense rows r, r + 1 with r odd straddle two blocks; they go to `shifted`, a second
// accumulator for the dense rows [0, shifted_rows) that stores row r at row r + 1, where the
// pair is aligned; the caller adds it back (grad[r] += shifted[r + 1]). So every dense pair
// and half the hashed ones cost one reduction instead of two.
// Modes (GridParams.pair_atomics): 0 one reduction per row; 1 only pairs that start at an
// even row (session 4, kept for benchmarks); 2 everything above (default).
struct PairTarget {
  float* shifted;         // [shifted_rows + 2, 2] fp32, zeroed; nullptr: no shifted buffer
  uint32_t shifted_rows;  // rows of the dense levels (they come first in the table)
  uint32_t mode;          // 0, 1 or 2, see above
};

// grad_table[row[k]] += v[k] for the 8 corners; corners k, k + 1 differ in x only.
template <int F>
HD void scatter_corners(float* grad_table, const PairTarget& pt, const uint32_t (&row)[8],
                        const float (&v)[8][F]) {
  if constexpr (F == 2) {
    if (pt.mode != 0u) {
#pragma unroll
      for (int k = 0; k < 8; k += 2) {
        const uint32_t r = row[k], r1 = row[k + 1];
        if (r1 == (r ^ 1u) && (pt.mode == 2u || (r & 1u) == 0u)) {
          const bool up = (r & 1u) == 0u;  // r is the block's first row
          add_row_pair(grad_table + static_cast<size_t>(up ? r : r1) * 2, up ? v[k] : v[k + 1],
                       up ? v[k + 1] : v[k]);
        } else if (pt.shifted != nullptr && r1 == r + 1u && r1 < pt.shifted_rows) {
          add_row_pair(pt.shifted + static_cast<size_t>(r1) * 2, v[k], v[k + 1]);
        } else {
          add_row<2>(grad_table + static_cast<size_t>(r) * 2, v[k]);
          add_row<2>(grad_table + static_cast<size_t>(r1) * 2, v[k + 1]);
        }
      }
      return;
    }
  }
#pragma unroll
  for (int k = 0; k < 8; ++k) add_row<F>(grad_table + static_cast<size_t>(row[k]) * F, v[k]);
}

}  // namespace hfgrid
