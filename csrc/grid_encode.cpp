// Torch binding of the grid-encoding kernels (grid_encode.cu): input checks, allocation,
// launch on the current stream (c10::cuda::getCurrentCUDAStream == at::cuda::...; the c10
// header avoids ATen/cuda's cuBLAS/cuSPARSE includes). Called from hyperfields_cli/field/backends.py.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/extension.h>

#include <cstdint>
#include <vector>

#include "grid_encode.h"

namespace {

using hfgrid::GridParams;

bool aligned(const torch::Tensor& t, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(t.data_ptr()) % static_cast<uintptr_t>(bytes) == 0;
}

// Vector loads need rows aligned to min(16, row bytes); a view with an odd offset is copied.
torch::Tensor aligned_copy(const torch::Tensor& t, int64_t row_bytes) {
  const int64_t need = row_bytes < 16 ? row_bytes : 16;
  return aligned(t, need) ? t : t.clone();
}

void check_points(const torch::Tensor& x) {
  TORCH_CHECK(x.is_cuda(), "grid_encode: x must be a CUDA tensor, got ", x.device());
  TORCH_CHECK(x.scalar_type() == torch::kFloat32, "grid_encode: x must be float32, got ",
              x.scalar_type());
  TORCH_CHECK(x.dim() == 2 && x.size(1) == 3, "grid_encode: x must be [N, 3], got ", x.sizes());
  TORCH_CHECK(x.is_contiguous(), "grid_encode: x must be contiguous");
}

void check_table(const torch::Tensor& table, const torch::Tensor& x) {
  TORCH_CHECK(table.device() == x.device(), "grid_encode: table on ", table.device(),
              " but x on ", x.device());
  TORCH_CHECK(table.scalar_type() == torch::kFloat32 || table.scalar_type() == torch::kFloat16,
              "grid_encode: table must be float32 or float16, got ", table.scalar_type());
  TORCH_CHECK(table.dim() == 2, "grid_encode: table must be [rows, F], got ", table.sizes());
  TORCH_CHECK(table.is_contiguous(), "grid_encode: table must be contiguous");
  const int64_t f = table.size(1);
  TORCH_CHECK(f == 1 || f == 2 || f == 4 || f == 8,
              "grid_encode: features per level must be 1, 2, 4 or 8, got ", f);
}

// Validates the level layout against the table so that every index the kernels form is in range.
GridParams make_params(const torch::Tensor& x, const torch::Tensor& table,
                       const std::vector<int64_t>& resolutions,
                       const std::vector<int64_t>& offsets, int64_t hashed_mask,
                       int64_t table_size) {
  const int64_t levels = static_cast<int64_t>(resolutions.size());
  TORCH_CHECK(levels >= 1 && levels <= hfgrid::kMaxLevels, "grid_encode: 1..",
              hfgrid::kMaxLevels, " levels supported, got ", levels);
  TORCH_CHECK(static_cast<int64_t>(offsets.size()) == levels + 1,
              "grid_encode: offsets must have L+1 entries");
  TORCH_CHECK(table_size >= 1 && (table_size & (table_size - 1)) == 0 && table_size <= (1LL << 30),
              "grid_encode: table_size must be a power of two, got ", table_size);
  TORCH_CHECK(hashed_mask >= 0 && hashed_mask < (1LL << levels), "grid_encode: bad hashed_mask");
  const int64_t rows = table.size(0);
  TORCH_CHECK(offsets[0] == 0 && offsets[levels] <= rows, "grid_encode: offsets [0, ",
              offsets[levels], "] do not fit a table of ", rows, " rows");
  TORCH_CHECK(rows < (1LL << 32), "grid_encode: table too large (", rows, " rows)");
  GridParams p{};
  p.num_points = x.size(0);
  p.num_levels = static_cast<uint32_t>(levels);
  p.hashed_mask = static_cast<uint32_t>(hashed_mask);
  p.hash_mask = static_cast<uint32_t>(table_size - 1);
  p.group_log2 = hfgrid::group_log2_for(static_cast<int>(table.size(1)));
  for (int64_t l = 0; l < levels; ++l) {
    const int64_t res = resolutions[l];
    const int64_t level_rows = offsets[l + 1] - offsets[l];
    TORCH_CHECK(res >= 1 && res < (1LL << 20), "grid_encode: bad resolution ", res);
    const bool hashed = (hashed_mask >> l) & 1;
    const int64_t needed = hashed ? table_size : (res + 1) * (res + 1) * (res + 1);
    TORCH_CHECK(level_rows >= needed, "grid_encode: level ", l, " has ", level_rows,
                " rows but needs ", needed);
    p.resolution[l] = static_cast<uint32_t>(res);
    p.offset[l] = static_cast<uint32_t>(offsets[l]);
    if (!hashed && p.dense_rows == offsets[l]) {  // dense levels before the first hashed one
      p.dense_rows = static_cast<uint32_t>(offsets[l + 1]);
    }
  }
  TORCH_CHECK((p.num_points << p.group_log2) < (1LL << 31), "grid_encode: too many points (",
              p.num_points, ")");
  return p;
}

hfgrid::TableType table_type(const torch::Tensor& table) {
  return table.scalar_type() == torch::kFloat16 ? hfgrid::TableType::kFloat16
                                                : hfgrid::TableType::kFloat32;
}

torch::Tensor grid_forward(const torch::Tensor& x, const torch::Tensor& table_in,
                           const std::vector<int64_t>& resolutions,
                           const std::vector<int64_t>& offsets, int64_t hashed_mask,
                           int64_t table_size) {
  check_points(x);
  check_table(table_in, x);
  // Validate everything before any CUDA state (guard, copies) exists, so a bad call only throws.
  const GridParams p = make_params(x, table_in, resolutions, offsets, hashed_mask, table_size);
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t f = table_in.size(1);
  const torch::Tensor table = aligned_copy(table_in, f * table_in.element_size());
  auto out = torch::empty({x.size(0), static_cast<int64_t>(p.num_levels) * f},
                          x.options().dtype(torch::kFloat32));
  C10_CUDA_CHECK(hfgrid::launch_forward(x.data_ptr<float>(), table.data_ptr(), table_type(table),
                                        static_cast<int>(f), p, out.data_ptr<float>(),
                                        c10::cuda::getCurrentCUDAStream()));
  return out;
}

// Returns {grad_table fp32 [rows, F] or empty, grad_x [N, 3] or empty}.
std::vector<torch::Tensor> grid_backward(const torch::Tensor& grad_out_in, const torch::Tensor& x,
                                         const torch::Tensor& table_in,
                                         const std::vector<int64_t>& resolutions,
                                         const std::vector<int64_t>& offsets,
                                         int64_t hashed_mask, int64_t table_size,
                                         bool need_table, bool need_x, int64_t pair_atomics,
                                         int64_t merge_res) {
  check_points(x);
  check_table(table_in, x);
  GridParams p = make_params(x, table_in, resolutions, offsets, hashed_mask, table_size);
  TORCH_CHECK(pair_atomics >= 0 && pair_atomics <= 2, "grid_encode: pair_atomics must be 0..2");
  p.pair_atomics = static_cast<uint32_t>(pair_atomics);
  TORCH_CHECK(merge_res >= 0, "grid_encode: merge_res must be >= 0");
  p.merge_res = static_cast<uint32_t>(merge_res < (1LL << 31) ? merge_res : (1LL << 31));
  const int64_t f = table_in.size(1);
  const int64_t out_dim = static_cast<int64_t>(p.num_levels) * f;
  TORCH_CHECK(grad_out_in.device() == x.device(), "grid_encode: grad_out on wrong device");
  TORCH_CHECK(grad_out_in.scalar_type() == torch::kFloat32, "grid_encode: grad_out must be fp32");
  TORCH_CHECK(grad_out_in.dim() == 2 && grad_out_in.size(0) == x.size(0) &&
                  grad_out_in.size(1) == out_dim,
              "grid_encode: grad_out must be [N, L*F], got ", grad_out_in.sizes());
  const c10::cuda::CUDAGuard guard(x.device());
  const torch::Tensor table = aligned_copy(table_in, f * table_in.element_size());
  const torch::Tensor grad_out = aligned_copy(grad_out_in.contiguous(), f * 4);
  const auto f32 = x.options().dtype(torch::kFloat32);
  torch::Tensor grad_table = need_table ? torch::zeros({table.size(0), f}, f32)
                                        : torch::empty({0}, f32);
  // Second accumulator for the dense rows' odd-aligned pairs (see grid_atomics.cuh).
  const bool shifted = need_table && pair_atomics == 2 && f == 2 && p.dense_rows > 0;
  const int64_t shifted_rows = shifted ? static_cast<int64_t>(p.dense_rows) + 2 : 0;
  torch::Tensor grad_shifted = torch::zeros({shifted_rows, 2}, f32);
  const int64_t groups = (p.num_levels + (1u << p.group_log2) - 1) >> p.group_log2;
  torch::Tensor grad_x_partial = need_x ? torch::empty({groups, x.size(0), 3}, f32)
                                        : torch::empty({0}, f32);
  if (need_table || need_x) {
    C10_CUDA_CHECK(hfgrid::launch_backward(
        x.data_ptr<float>(), table.data_ptr(), table_type(table), static_cast<int>(f),
        grad_out.data_ptr<float>(), p, need_table ? grad_table.data_ptr<float>() : nullptr,
        shifted ? grad_shifted.data_ptr<float>() : nullptr,
        need_x ? grad_x_partial.data_ptr<float>() : nullptr, c10::cuda::getCurrentCUDAStream()));
  }
  if (shifted) {
    const int64_t rows = p.dense_rows;
    grad_table.narrow(0, 0, rows).add_(grad_shifted.narrow(0, 1, rows));
  }
  torch::Tensor grad_x = need_x ? (groups == 1 ? grad_x_partial[0] : grad_x_partial.sum(0))
                                : torch::empty({0}, f32);
  return {grad_table, grad_x};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "hyperfields multiresolution grid encoding (CUDA)";
  m.def("forward", &grid_forward, "x [N,3], table [rows,F] -> features [N, L*F] fp32");
  m.def("backward", &grid_backward,
        "grad_out, x, table, ... -> (grad_table fp32 | empty, grad_x | empty)");
}
