// Multiresolution grid encoding: shared declarations of the CUDA launchers (grid_encode.cu)
// and their torch binding (grid_encode.cpp). Layout: see hyperfields_cli/field/grid.py.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace hfgrid {

constexpr int kMaxLevels = 32;

// Per-call layout of the table, passed to the kernels by value (kernel-parameter space).
struct GridParams {
  int64_t num_points;               // N
  uint32_t num_levels;              // L
  uint32_t hashed_mask;             // bit l set: level l is a hash table
  uint32_t hash_mask;               // table_size - 1 (table_size is a power of two)
  uint32_t group_log2;              // log2(levels handled by consecutive lanes of one point)
  uint32_t pair_atomics;            // backward, F = 2: x-adjacent rows as one red.v4; 0 off,
                                    // 1 even-aligned pairs only, 2 all (grid_atomics.cuh)
  uint32_t merge_res;               // backward, F <= 2: warp-merge same-cell points on levels
                                    // with resolution <= merge_res (0 = off); see grid_warp.cuh
  uint32_t dense_rows;              // rows of the dense levels, which come first in the table
  uint32_t resolution[kMaxLevels];  // cells per axis of level l
  uint32_t offset[kMaxLevels];      // first table row of level l
};

enum class TableType : int { kFloat32 = 0, kFloat16 = 1 };

// log2 of the number of consecutive levels one point's lanes cover: F * 4 bytes * 2^g ~ 32 B,
// so each point writes (and reads its gradient) in whole 32-byte sectors.
inline uint32_t group_log2_for(int features) {
  return features == 1 ? 3u : features == 2 ? 2u : features <= 4 ? 1u : 0u;
}

// out [N, L*F] fp32 <- x [N, 3] fp32, table [rows, F] (fp32 or fp16).
cudaError_t launch_forward(const float* x, const void* table, TableType type, int features,
                           const GridParams& p, float* out, cudaStream_t stream);

// grad_table [rows, F] fp32 (zeroed by the caller; nullptr: skip),
// grad_shifted [dense_rows + 2, 2] fp32 (F = 2 with pair_atomics; zeroed; the caller adds
// grad_shifted[r + 1] into grad_table[r] for r < dense_rows; nullptr: not used; see
// grid_atomics.cuh) and
// grad_x_partial [ceil(L / 2^group_log2), N, 3] fp32 (one slice per level group; nullptr: skip).
cudaError_t launch_backward(const float* x, const void* table, TableType type, int features,
                            const float* grad_out, const GridParams& p, float* grad_table,
                            float* grad_shifted, float* grad_x_partial, cudaStream_t stream);

}  // namespace hfgrid
