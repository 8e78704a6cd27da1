// Multiresolution grid encoding kernels (forward, grad wrt table and wrt x), written for
// hyperfields. Same function as hyperfields_cli/field/grid_torch.py, which is the reference.
//
// Work split: one thread per (point, level). Threads are ordered level-group-major: blockIdx.y
// picks a group of 2^g consecutive levels, and inside a group the 2^g lanes of one point are
// adjacent. So (a) at any moment the whole GPU works on one group of levels, whose table slice
// (<= 4 x 4 MB in the paper config) stays in L2 for the random gathers and the atomics, and
// (b) the lanes of a point write/read 2^g * F * 4 = 32 contiguous bytes of out / grad_out,
// i.e. whole sectors, although out is point-major [N, L*F].
#include <cuda_fp16.h>

#include <cstring>
#include <type_traits>

#include "grid_encode.h"
#include "grid_atomics.cuh"
#include "grid_warp.cuh"

namespace hfgrid {
namespace {

#define HD __host__ __device__ __forceinline__

constexpr int kThreads = 256;
constexpr uint32_t kPrimeY = 2654435761u;  // spatial-hash primes (x uses 1)
constexpr uint32_t kPrimeZ = 805459861u;

HD float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);  // no fma contraction into the `pos - base` below: match torch
#else
  return a * b;
#endif
}

template <typename V>
HD V load_ro(const V* p) {
#ifdef __CUDA_ARCH__
  return __ldg(p);
#else
  return *p;
#endif
}

HD float to_float(float v) { return v; }
HD float to_float(__half v) { return __half2float(v); }

// Unsigned vector type of 2, 4, 8 or 16 bytes (raw bits of one table-row chunk).
template <int kBytes>
using VecOf = std::conditional_t<
    kBytes == 2, unsigned short,
    std::conditional_t<kBytes == 4, unsigned int, std::conditional_t<kBytes == 8, uint2, uint4>>>;

// Loads F consecutive values (one table row, 2..32 bytes) with the widest aligned loads.
template <int F, typename T>
HD void load_row(const T* row, float (&v)[F]) {
  constexpr int kBytes = F * static_cast<int>(sizeof(T));
  constexpr int kChunk = kBytes > 16 ? 16 : kBytes;
  using V = VecOf<kChunk>;
  V raw[kBytes / kChunk];
#pragma unroll
  for (int c = 0; c < kBytes / kChunk; ++c) raw[c] = load_ro(reinterpret_cast<const V*>(row) + c);
  T vals[F];
  memcpy(vals, raw, kBytes);  // bit cast (register moves), no aliasing through pointers
#pragma unroll
  for (int f = 0; f < F; ++f) v[f] = to_float(vals[f]);
}

// Plain (cached) load of F fp32 values: 4, 8 or 16 bytes per access.
template <int F>
HD void load_f32(const float* p, float (&v)[F]) {
  if constexpr (F == 2) {
    const float2 t = *reinterpret_cast<const float2*>(p);
    v[0] = t.x;
    v[1] = t.y;
  } else if constexpr (F % 4 == 0) {
#pragma unroll
    for (int c = 0; c < F / 4; ++c) {
      const float4 t = reinterpret_cast<const float4*>(p)[c];
      v[4 * c] = t.x;
      v[4 * c + 1] = t.y;
      v[4 * c + 2] = t.z;
      v[4 * c + 3] = t.w;
    }
  } else {
#pragma unroll
    for (int f = 0; f < F; ++f) v[f] = p[f];
  }
}

template <int F>
HD void store_f32(float* p, const float (&v)[F]) {
  if constexpr (F == 2) {
    *reinterpret_cast<float2*>(p) = make_float2(v[0], v[1]);
  } else if constexpr (F % 4 == 0) {
#pragma unroll
    for (int c = 0; c < F / 4; ++c)
      reinterpret_cast<float4*>(p)[c] =
          make_float4(v[4 * c], v[4 * c + 1], v[4 * c + 2], v[4 * c + 3]);
  } else {
#pragma unroll
    for (int f = 0; f < F; ++f) p[f] = v[f];
  }
}

// The cell of point `xp` at level `l`: table rows of its 8 corners (bit 0/1/2 of the corner
// number = +1 along x/y/z, as in grid_torch._CORNERS) and the fractional position in it.
struct Cell {
  uint32_t row[8];
  uint32_t base[3];  // integer cell coordinates (identify the cell on hashed levels too)
  float frac[3];
  float res;
};

HD void locate(const float* xp, const GridParams& p, uint32_t l, Cell& c) {
  const uint32_t res = p.resolution[l];
  c.res = static_cast<float>(res);
  uint32_t(&base)[3] = c.base;
#pragma unroll
  for (int d = 0; d < 3; ++d) {
    const float pos = mul_rn(xp[d], c.res);
    // fmaxf(NaN, 0) = 0: indices stay in range even for NaN inputs.
    const float b = fminf(fmaxf(floorf(pos), 0.0f), c.res - 1.0f);
    c.frac[d] = pos - b;
    base[d] = static_cast<uint32_t>(b);
  }
  const uint32_t off = p.offset[l];
  if ((p.hashed_mask >> l) & 1u) {
    const uint32_t hx[2] = {base[0], base[0] + 1u};
    const uint32_t hy[2] = {base[1] * kPrimeY, (base[1] + 1u) * kPrimeY};
    const uint32_t hz[2] = {base[2] * kPrimeZ, (base[2] + 1u) * kPrimeZ};
#pragma unroll
    for (int k = 0; k < 8; ++k)
      c.row[k] = off + ((hx[k & 1] ^ hy[(k >> 1) & 1] ^ hz[k >> 2]) & p.hash_mask);
  } else {
    const uint32_t side = res + 1u;
    const uint32_t first = off + base[0] + side * (base[1] + side * base[2]);
#pragma unroll
    for (int k = 0; k < 8; ++k)
      c.row[k] = first + (k & 1) + ((k >> 1) & 1) * side + (k >> 2) * side * side;
  }
}

// Trilinear weight of corner k.
HD float corner_weight(const Cell& c, int k) {
  const float wx = (k & 1) ? c.frac[0] : 1.0f - c.frac[0];
  const float wy = (k & 2) ? c.frac[1] : 1.0f - c.frac[1];
  const float wz = (k & 4) ? c.frac[2] : 1.0f - c.frac[2];
  return wx * wy * wz;
}

// Thread i of level group `group` -> (point n, level l).
struct Lane {
  int64_t n;
  uint32_t l;
  bool valid;
};

HD Lane lane_of(uint32_t i, uint32_t group, const GridParams& p) {
  Lane t;
  t.n = static_cast<int64_t>(i >> p.group_log2);
  t.l = (group << p.group_log2) + (i & ((1u << p.group_log2) - 1u));
  t.valid = t.n < p.num_points && t.l < p.num_levels;
  return t;
}

template <int F, typename T>
HD void forward_thread(uint32_t i, uint32_t group, const float* x, const T* table,
                       const GridParams& p, float* out) {
  const Lane t = lane_of(i, group, p);
  if (!t.valid) return;
  Cell c;
  locate(x + 3 * t.n, p, t.l, c);
  float v[8][F];
#pragma unroll
  for (int k = 0; k < 8; ++k) load_row<F>(table + static_cast<size_t>(c.row[k]) * F, v[k]);
  float acc[F];
#pragma unroll
  for (int f = 0; f < F; ++f) acc[f] = 0.0f;
#pragma unroll
  for (int k = 0; k < 8; ++k) {
    const float w = corner_weight(c, k);
#pragma unroll
    for (int f = 0; f < F; ++f) acc[f] = fmaf(w, v[k][f], acc[f]);
  }
  store_f32<F>(out + (t.n * p.num_levels + t.l) * F, acc);
}

// d(loss)/dx of one lane: trilinear weight derivatives against <grad_out, corner row>.
template <int F, typename T>
HD void grad_x_thread(const Cell& c, const T* table, const float (&g)[F], float (&dx)[3]) {
  float v[8][F];
#pragma unroll
  for (int k = 0; k < 8; ++k) load_row<F>(table + static_cast<size_t>(c.row[k]) * F, v[k]);
  const float w0[3] = {1.0f - c.frac[0], 1.0f - c.frac[1], 1.0f - c.frac[2]};
#pragma unroll
  for (int k = 0; k < 8; ++k) {
    float s = 0.0f;  // <grad_out, table row of corner k>
#pragma unroll
    for (int f = 0; f < F; ++f) s = fmaf(g[f], v[k][f], s);
    const float wx = (k & 1) ? c.frac[0] : w0[0];
    const float wy = (k & 2) ? c.frac[1] : w0[1];
    const float wz = (k & 4) ? c.frac[2] : w0[2];
    // d w_k / d frac_d = +-(product of the other two factors)
    dx[0] += ((k & 1) ? s : -s) * wy * wz;
    dx[1] += ((k & 2) ? s : -s) * wx * wz;
    dx[2] += ((k & 4) ? s : -s) * wx * wy;
  }
  // d frac / d x = res (floor and clamp carry no gradient, as in torch)
#pragma unroll
  for (int d = 0; d < 3; ++d) dx[d] *= c.res;
}

// Accumulates this lane's share of grad_table and returns its d(loss)/dx contribution in dx.
// All 32 lanes of a warp must call it (warp merging and the dx sum use shuffles).
template <int F, typename T, bool kTable, bool kX>
__device__ __forceinline__ void backward_lane(uint32_t i, uint32_t group, const float* x,
                                              const T* table, const float* grad_out,
                                              const GridParams& p, float* grad_table,
                                              float* grad_shifted, float (&dx)[3]) {
  dx[0] = dx[1] = dx[2] = 0.0f;
  const Lane t = lane_of(i, group, p);
  Cell c;
  float g[F];
  if (t.valid) {
    locate(x + 3 * t.n, p, t.l, c);
    load_f32<F>(grad_out + (t.n * p.num_levels + t.l) * F, g);
  }
  if constexpr (kTable) {
    float v[8][F];
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      const float w = t.valid ? corner_weight(c, k) : 0.0f;
#pragma unroll
      for (int f = 0; f < F; ++f) v[k][f] = t.valid ? w * g[f] : 0.0f;
    }
    bool tail = true;
    if constexpr (F <= 2) {
      // Block-uniform test: a group's first level is its coarsest.
      if (p.merge_res != 0u && p.resolution[group << p.group_log2] <= p.merge_res) {
        const uint32_t lane = threadIdx.x & 31u;
        const bool merges = t.valid && p.resolution[t.l] <= p.merge_res;
        const uint64_t key = merges ? cell_key(c.base) : unique_key(lane);
        tail = merge_runs<8, F>(v, key, 1u << p.group_log2);
      }
    }
    const PairTarget pt{grad_shifted, p.dense_rows, p.pair_atomics};
    if (t.valid && tail) scatter_corners<F>(grad_table, pt, c.row, v);
  }
  if constexpr (kX) {
    if (t.valid) grad_x_thread<F, T>(c, table, g, dx);
  }
}

template <int F, typename T>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(const float* __restrict__ x, const T* __restrict__ table,
                   float* __restrict__ out, const GridParams p) {
  forward_thread<F, T>(blockIdx.x * kThreads + threadIdx.x, blockIdx.y, x, table, p, out);
}

template <int F, typename T, bool kTable, bool kX>
__global__ void __launch_bounds__(kThreads)
    backward_kernel(const float* __restrict__ x, const T* __restrict__ table,
                    const float* __restrict__ grad_out, float* __restrict__ grad_table,
                    float* __restrict__ grad_shifted, float* __restrict__ grad_x_partial,
                    const GridParams p) {
  const uint32_t i = blockIdx.x * kThreads + threadIdx.x;
  float dx[3];
  backward_lane<F, T, kTable, kX>(i, blockIdx.y, x, table, grad_out, p, grad_table, grad_shifted,
                                  dx);
  if constexpr (kX) {
    // Sum over the 2^g adjacent lanes of one point (all 32 lanes reach here: no early exit).
    for (uint32_t s = 1; s < (1u << p.group_log2); s <<= 1) {
#pragma unroll
      for (int d = 0; d < 3; ++d) dx[d] += __shfl_xor_sync(0xffffffffu, dx[d], s);
    }
    const int64_t n = static_cast<int64_t>(i >> p.group_log2);
    if (n < p.num_points && (i & ((1u << p.group_log2) - 1u)) == 0u) {
      float* dst = grad_x_partial + (static_cast<int64_t>(blockIdx.y) * p.num_points + n) * 3;
#pragma unroll
      for (int d = 0; d < 3; ++d) dst[d] = dx[d];
    }
  }
}

dim3 grid_of(const GridParams& p) {
  const int64_t lanes = p.num_points << p.group_log2;
  const uint32_t groups = (p.num_levels + (1u << p.group_log2) - 1u) >> p.group_log2;
  return dim3(static_cast<uint32_t>((lanes + kThreads - 1) / kThreads), groups, 1);
}

template <int F, typename T>
cudaError_t forward_typed(const float* x, const void* table, const GridParams& p, float* out,
                          cudaStream_t stream) {
  forward_kernel<F, T><<<grid_of(p), kThreads, 0, stream>>>(x, static_cast<const T*>(table), out,
                                                              p);
  return cudaGetLastError();
}

template <int F, typename T>
cudaError_t backward_typed(const float* x, const void* table, const float* grad_out,
                           const GridParams& p, float* gt, float* gs, float* gx,
                           cudaStream_t stream) {
  const T* tab = static_cast<const T*>(table);
  const dim3 grid = grid_of(p);
  if (gt != nullptr && gx != nullptr) {
    backward_kernel<F, T, true, true>
        <<<grid, kThreads, 0, stream>>>(x, tab, grad_out, gt, gs, gx, p);
  } else if (gt != nullptr) {
    backward_kernel<F, T, true, false>
        <<<grid, kThreads, 0, stream>>>(x, tab, grad_out, gt, gs, gx, p);
  } else if (gx != nullptr) {
    backward_kernel<F, T, false, true>
        <<<grid, kThreads, 0, stream>>>(x, tab, grad_out, gt, gs, gx, p);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t forward_dispatch(int features, const float* x, const void* table, const GridParams& p,
                             float* out, cudaStream_t s) {
  switch (features) {
    case 1: return forward_typed<1, T>(x, table, p, out, s);
    case 2: return forward_typed<2, T>(x, table, p, out, s);
    case 4: return forward_typed<4, T>(x, table, p, out, s);
    case 8: return forward_typed<8, T>(x, table, p, out, s);
    default: return cudaErrorInvalidValue;
  }
}

template <typename T>
cudaError_t backward_dispatch(int features, const float* x, const void* table, const float* go,
                              const GridParams& p, float* gt, float* gs, float* gx,
                              cudaStream_t s) {
  switch (features) {
    case 1: return backward_typed<1, T>(x, table, go, p, gt, gs, gx, s);
    case 2: return backward_typed<2, T>(x, table, go, p, gt, gs, gx, s);
    case 4: return backward_typed<4, T>(x, table, go, p, gt, gs, gx, s);
    case 8: return backward_typed<8, T>(x, table, go, p, gt, gs, gx, s);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t launch_forward(const float* x, const void* table, TableType type, int features,
                           const GridParams& p, float* out, cudaStream_t stream) {
  if (p.num_points == 0) return cudaSuccess;
  return type == TableType::kFloat16
             ? forward_dispatch<__half>(features, x, table, p, out, stream)
             : forward_dispatch<float>(features, x, table, p, out, stream);
}

cudaError_t launch_backward(const float* x, const void* table, TableType type, int features,
                            const float* grad_out, const GridParams& p, float* grad_table,
                            float* grad_shifted, float* grad_x_partial, cudaStream_t stream) {
  if (p.num_points == 0) return cudaSuccess;
  return type == TableType::kFloat16
             ? backward_dispatch<__half>(features, x, table, grad_out, p, grad_table,
                                         grad_shifted, grad_x_partial, stream)
             : backward_dispatch<float>(features, x, table, grad_out, p, grad_table,
                                        grad_shifted, grad_x_partial, stream);
}

}  // namespace hfgrid
