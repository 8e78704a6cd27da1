// Python bindings of the ray marcher (module hf_raymarch; CPU-only build: raymarch_cpu.cpp).
// Every op runs on the device of its tensors: CUDA kernels from raymarch.cu, or the same per-ray
// bodies (raymarch_core.h) in a CPU loop. Shapes and meaning: raymarch_core.h and
// hyperfields_cli/render/marcher.py.

#include <torch/extension.h>

#include <vector>

#include "raymarch_core.h"

#ifndef HF_CPU_ONLY
#include <c10/cuda/CUDAGuard.h>
#endif

namespace hf_raymarch {

#ifndef HF_CPU_ONLY
void march_count_cuda(const MarchArgs& a, const int64_t* rays, const int32_t* k_state,
                      int64_t* counts, int64_t num);
void march_fill_cuda(const MarchArgs& a, const int64_t* rays, int32_t* k_state,
                     const int64_t* offsets, float* pts, float* ts, float* dts, int64_t num);
void composite_fwd_cuda(const float* sigma, const float* rgb, const float* ts, const float* dts,
                        const int64_t* offsets, const int64_t* rays, float t_thresh, float* tau,
                        float* acc_rgb, float* acc_depth, float* acc_opacity, float* trans,
                        int64_t num);
void composite_bwd_cuda(const float* g_rgb, const float* g_depth, const float* g_opacity,
                        const float* sigma, const float* rgb, const float* ts, const float* dts,
                        const int64_t* offsets, const int64_t* rays, float t_thresh,
                        const float* out_rgb, const float* out_depth, const float* out_opacity,
                        float* grad_sigma, float* grad_rgb, int64_t num);
#endif

namespace {

void check(const torch::Tensor& t, const char* name, torch::ScalarType dtype,
           const torch::Device& device) {
  TORCH_CHECK(t.scalar_type() == dtype, name, " must be ", dtype, ", got ", t.scalar_type());
  TORCH_CHECK(t.device() == device, name, " must be on ", device, ", got ", t.device());
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

bool on_cuda(const torch::Tensor& t) {
#ifdef HF_CPU_ONLY
  TORCH_CHECK(!t.is_cuda(), "this build of hf_raymarch has no CUDA kernels");
  return false;
#else
  return t.is_cuda();
#endif
}

}  // namespace

// March the scene-rays listed in `rays` (sr = s * R + r) from k_state[sr] (updated in place),
// emitting up to max_samples occupied samples each. Returns offsets [A+1] (int64), points
// [M, 3], t [M] and dt [M], packed in list order.
std::vector<torch::Tensor> march(torch::Tensor origins, torch::Tensor dirs, torch::Tensor near,
                                 torch::Tensor dt, torch::Tensor nsteps, torch::Tensor jitter,
                                 torch::Tensor bits, int64_t res, double bound,
                                 torch::Tensor rays, torch::Tensor k_state,
                                 int64_t max_samples) {
  const auto device = origins.device();
  const auto f32 = torch::kFloat32;
  check(origins, "origins", f32, device);
  check(dirs, "dirs", f32, device);
  check(near, "near", f32, device);
  check(dt, "dt", f32, device);
  check(nsteps, "nsteps", torch::kInt32, device);
  check(jitter, "jitter", f32, device);
  check(bits, "bits", torch::kUInt8, device);
  check(rays, "rays", torch::kInt64, device);
  check(k_state, "k_state", torch::kInt32, device);
  const int64_t num_rays = origins.size(0);
  TORCH_CHECK(bits.dim() == 2 && bits.size(1) * 8 == res * res * res, "bits must be [S, res^3/8]");
  TORCH_CHECK(k_state.numel() == bits.size(0) * num_rays, "k_state must be [S * R]");
  TORCH_CHECK(max_samples > 0 && max_samples < (1LL << 31), "max_samples out of range");

  MarchArgs a;
  a.origins = origins.data_ptr<float>();
  a.dirs = dirs.data_ptr<float>();
  a.near = near.data_ptr<float>();
  a.dt = dt.data_ptr<float>();
  a.nsteps = nsteps.data_ptr<int32_t>();
  a.jitter = jitter.data_ptr<float>();
  a.bits = bits.data_ptr<uint8_t>();
  a.bytes_per_scene = bits.size(1);
  a.res = (int32_t)res;
  a.bound = (float)bound;
  a.scale = (float)((double)res / (2.0 * bound));
  a.num_rays = num_rays;
  a.max_samples = (int32_t)max_samples;

  const int64_t num = rays.numel();
  auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(device);
  auto counts = torch::zeros({num}, i64);
  const int64_t* rp = rays.data_ptr<int64_t>();
  int32_t* kp = k_state.data_ptr<int32_t>();
  if (on_cuda(origins)) {
#ifndef HF_CPU_ONLY
    const c10::cuda::CUDAGuard guard(device);
    march_count_cuda(a, rp, kp, counts.data_ptr<int64_t>(), num);
#endif
  } else {
    int64_t* cp = counts.data_ptr<int64_t>();
    at::parallel_for(0, num, 256, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        int32_t k_end = 0;
        cp[i] = march_ray(a, rp[i], kp[rp[i]], &k_end, nullptr, nullptr, nullptr);
      }
    });
  }
  auto offsets = torch::cat({torch::zeros({1}, i64), counts.cumsum(0)});
  const int64_t total = offsets[num].item<int64_t>();
  auto f = torch::TensorOptions().dtype(f32).device(device);
  auto pts = torch::empty({total, 3}, f);
  auto ts = torch::empty({total}, f);
  auto dts = torch::empty({total}, f);
  const int64_t* op = offsets.data_ptr<int64_t>();
  if (on_cuda(origins)) {
#ifndef HF_CPU_ONLY
    const c10::cuda::CUDAGuard guard(device);
    march_fill_cuda(a, rp, kp, op, pts.data_ptr<float>(), ts.data_ptr<float>(),
                    dts.data_ptr<float>(), num);
#endif
  } else {
    float* pp = pts.data_ptr<float>();
    float* tp = ts.data_ptr<float>();
    float* dp = dts.data_ptr<float>();
    at::parallel_for(0, num, 256, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        int32_t k_end = 0;
        march_ray(a, rp[i], kp[rp[i]], &k_end, pp + 3 * op[i], tp + op[i], dp + op[i]);
        kp[rp[i]] = k_end;
      }
    });
  }
  return {offsets, pts, ts, dts};
}

// Composite packed samples of the listed scene-rays onto per-scene-ray state [S*R] (in place):
// tau (optical depth so far), acc_rgb [S*R, 3], acc_depth, acc_opacity. trans [M] (or an empty
// tensor) receives T before each used sample.
void composite_fwd(torch::Tensor sigma, torch::Tensor rgb, torch::Tensor ts, torch::Tensor dts,
                   torch::Tensor offsets, torch::Tensor rays, double t_thresh, torch::Tensor tau,
                   torch::Tensor acc_rgb, torch::Tensor acc_depth, torch::Tensor acc_opacity,
                   torch::Tensor trans) {
  const auto device = sigma.device();
  const auto f32 = torch::kFloat32;
  for (auto& p : {std::make_pair(&sigma, "sigma"), std::make_pair(&rgb, "rgb"),
                  std::make_pair(&ts, "ts"), std::make_pair(&dts, "dts"),
                  std::make_pair(&tau, "tau"), std::make_pair(&acc_rgb, "acc_rgb"),
                  std::make_pair(&acc_depth, "acc_depth"),
                  std::make_pair(&acc_opacity, "acc_opacity")}) {
    check(*p.first, p.second, f32, device);
  }
  check(offsets, "offsets", torch::kInt64, device);
  check(rays, "rays", torch::kInt64, device);
  const int64_t m = sigma.numel();
  TORCH_CHECK(rgb.numel() == 3 * m && ts.numel() == m && dts.numel() == m, "sample sizes differ");
  TORCH_CHECK(offsets.numel() == rays.numel() + 1, "offsets must be [A+1]");
  TORCH_CHECK(acc_rgb.numel() == 3 * tau.numel(), "acc_rgb must be [S*R, 3]");
  float* tp = nullptr;
  if (trans.numel() > 0) {
    check(trans, "trans", f32, device);
    TORCH_CHECK(trans.numel() == m, "trans must be [M]");
    tp = trans.data_ptr<float>();
  }
  const int64_t num = rays.numel();
  const float* s = sigma.data_ptr<float>();
  const float* c = rgb.data_ptr<float>();
  const float* t = ts.data_ptr<float>();
  const float* d = dts.data_ptr<float>();
  const int64_t* op = offsets.data_ptr<int64_t>();
  const int64_t* rp = rays.data_ptr<int64_t>();
  float* ta = tau.data_ptr<float>();
  float* ar = acc_rgb.data_ptr<float>();
  float* ad = acc_depth.data_ptr<float>();
  float* ao = acc_opacity.data_ptr<float>();
  if (on_cuda(sigma)) {
#ifndef HF_CPU_ONLY
    const c10::cuda::CUDAGuard guard(device);
    composite_fwd_cuda(s, c, t, d, op, rp, (float)t_thresh, ta, ar, ad, ao, tp, num);
#endif
  } else {
    at::parallel_for(0, num, 256, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t sr = rp[i];
        composite_ray_fwd(s, c, t, d, op[i], op[i + 1], (float)t_thresh, ta + sr, ar + 3 * sr,
                          ad + sr, ao + sr, tp);
      }
    });
  }
}

// Backward of composite_fwd started from tau = 0: returns grad_sigma [M], grad_rgb [M, 3].
std::vector<torch::Tensor> composite_bwd(torch::Tensor g_rgb, torch::Tensor g_depth,
                                         torch::Tensor g_opacity, torch::Tensor sigma,
                                         torch::Tensor rgb, torch::Tensor ts, torch::Tensor dts,
                                         torch::Tensor offsets, torch::Tensor rays,
                                         double t_thresh, torch::Tensor out_rgb,
                                         torch::Tensor out_depth, torch::Tensor out_opacity) {
  const auto device = sigma.device();
  const auto f32 = torch::kFloat32;
  for (auto& p : {std::make_pair(&g_rgb, "g_rgb"), std::make_pair(&g_depth, "g_depth"),
                  std::make_pair(&g_opacity, "g_opacity"), std::make_pair(&sigma, "sigma"),
                  std::make_pair(&rgb, "rgb"), std::make_pair(&ts, "ts"),
                  std::make_pair(&dts, "dts"), std::make_pair(&out_rgb, "out_rgb"),
                  std::make_pair(&out_depth, "out_depth"),
                  std::make_pair(&out_opacity, "out_opacity")}) {
    check(*p.first, p.second, f32, device);
  }
  check(offsets, "offsets", torch::kInt64, device);
  check(rays, "rays", torch::kInt64, device);
  const int64_t m = sigma.numel();
  TORCH_CHECK(offsets.numel() == rays.numel() + 1, "offsets must be [A+1]");
  TORCH_CHECK(g_rgb.numel() == out_rgb.numel() && g_depth.numel() == out_depth.numel(),
              "grad shapes differ from outputs");
  auto grad_sigma = torch::zeros({m}, sigma.options());
  auto grad_rgb = torch::zeros({m, 3}, sigma.options());
  const int64_t num = rays.numel();
  const float* gr = g_rgb.data_ptr<float>();
  const float* gd = g_depth.data_ptr<float>();
  const float* go = g_opacity.data_ptr<float>();
  const float* s = sigma.data_ptr<float>();
  const float* c = rgb.data_ptr<float>();
  const float* t = ts.data_ptr<float>();
  const float* d = dts.data_ptr<float>();
  const int64_t* op = offsets.data_ptr<int64_t>();
  const int64_t* rp = rays.data_ptr<int64_t>();
  const float* orgb = out_rgb.data_ptr<float>();
  const float* od = out_depth.data_ptr<float>();
  const float* oo = out_opacity.data_ptr<float>();
  float* gs = grad_sigma.data_ptr<float>();
  float* gc = grad_rgb.data_ptr<float>();
  if (on_cuda(sigma)) {
#ifndef HF_CPU_ONLY
    const c10::cuda::CUDAGuard guard(device);
    composite_bwd_cuda(gr, gd, go, s, c, t, d, op, rp, (float)t_thresh, orgb, od, oo, gs, gc,
                       num);
#endif
  } else {
    at::parallel_for(0, num, 256, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t sr = rp[i];
        composite_ray_bwd(s, c, t, d, op[i], op[i + 1], (float)t_thresh, gr + 3 * sr, gd[sr],
                          go[sr], orgb + 3 * sr, od[sr], oo[sr], gs, gc);
      }
    });
  }
  return {grad_sigma, grad_rgb};
}

}  // namespace hf_raymarch

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("march", &hf_raymarch::march, "occupancy-grid marching into packed samples");
  m.def("composite_fwd", &hf_raymarch::composite_fwd, "front-to-back compositing (in place)");
  m.def("composite_bwd", &hf_raymarch::composite_bwd, "compositing backward from tau = 0");
}
