// Per-ray bodies of the ray marcher, shared by the CUDA kernels (raymarch.cu) and the CPU loops
// (raymarch.cpp) so the CPU build can test the exact code the GPU runs.
//
// Conventions (mirrored by hyperfields_cli/render/marcher.py, the pure-torch reference):
//  - S scenes share R rays; a "scene-ray" id is sr = s * R + r.
//  - ray r has samples k = 0 .. nsteps[r]-1 at t_k = near[r] + (k + jitter[r]) * dt[r].
//  - occupancy: uint8 bitfield [S, res^3 / 8]; cell c = x + res * (y + res * z) is occupied when
//    bit (c & 7) of byte (c >> 3) is set; cell of p = floor((p + bound) * scale), scale =
//    res / (2 bound); points outside the cube are empty.
//  - compositing: T_k = exp(-sum_{j<k} sigma_j dt_j); a sample is used while T_k >= t_thresh;
//    w_k = T_k (1 - exp(-sigma_k dt_k)).
#pragma once

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define HF_HD __host__ __device__ __forceinline__
#else
#define HF_HD inline
#endif

namespace hf_raymarch {

struct MarchArgs {
  const float* origins;   // [R, 3]
  const float* dirs;      // [R, 3]
  const float* near;      // [R]
  const float* dt;        // [R]
  const int32_t* nsteps;  // [R]
  const float* jitter;    // [R] in [0, 1)
  const uint8_t* bits;    // [S, bytes_per_scene]
  int64_t bytes_per_scene;
  int32_t res;
  float bound;
  float scale;  // res / (2 bound)
  int64_t num_rays;  // R
  int32_t max_samples;  // per scene-ray and call
};

// March one scene-ray from step k_state[sr]; emit up to max_samples occupied samples.
// With out_pts == nullptr only counts. Returns the number emitted; *k_end gets the next step.
HF_HD int32_t march_ray(const MarchArgs& a, int64_t sr, int32_t k_begin, int32_t* k_end,
                        float* out_pts, float* out_t, float* out_dt) {
  const int64_t s = sr / a.num_rays;
  const int64_t r = sr - s * a.num_rays;
  const float ox = a.origins[3 * r], oy = a.origins[3 * r + 1], oz = a.origins[3 * r + 2];
  const float dx = a.dirs[3 * r], dy = a.dirs[3 * r + 1], dz = a.dirs[3 * r + 2];
  const float near = a.near[r], dt = a.dt[r], u = a.jitter[r];
  const int32_t n = a.nsteps[r];
  const uint8_t* bits = a.bits + s * a.bytes_per_scene;
  const float inv_scale = 1.0f / a.scale;
  int32_t k = k_begin;
  int32_t emitted = 0;
  while (k < n && emitted < a.max_samples) {
    const float t = near + ((float)k + u) * dt;
    const float px = ox + dx * t, py = oy + dy * t, pz = oz + dz * t;
    const float gx = floorf((px + a.bound) * a.scale);
    const float gy = floorf((py + a.bound) * a.scale);
    const float gz = floorf((pz + a.bound) * a.scale);
    const float fres = (float)a.res;
    if (gx < 0.f || gy < 0.f || gz < 0.f || gx >= fres || gy >= fres || gz >= fres) {
      ++k;  // only at the ends of a ray (rounding): never skip far from here
      continue;
    }
    const int32_t ix = (int32_t)gx, iy = (int32_t)gy, iz = (int32_t)gz;
    const int64_t c = (int64_t)ix + (int64_t)a.res * ((int64_t)iy + (int64_t)a.res * iz);
    if ((bits[c >> 3] >> (c & 7)) & 1) {
      if (out_pts != nullptr) {
        out_pts[3 * emitted] = px;
        out_pts[3 * emitted + 1] = py;
        out_pts[3 * emitted + 2] = pz;
        out_t[emitted] = t;
        out_dt[emitted] = dt;
      }
      ++emitted;
      ++k;
      continue;
    }
    // Empty cell: jump to the last step still inside it (re-checked), never backwards.
    float t_exit = 3.0e38f;
    const float lo_x = gx * inv_scale - a.bound, lo_y = gy * inv_scale - a.bound,
                lo_z = gz * inv_scale - a.bound;
    if (dx > 1e-12f) t_exit = fminf(t_exit, (lo_x + inv_scale - ox) / dx);
    if (dx < -1e-12f) t_exit = fminf(t_exit, (lo_x - ox) / dx);
    if (dy > 1e-12f) t_exit = fminf(t_exit, (lo_y + inv_scale - oy) / dy);
    if (dy < -1e-12f) t_exit = fminf(t_exit, (lo_y - oy) / dy);
    if (dz > 1e-12f) t_exit = fminf(t_exit, (lo_z + inv_scale - oz) / dz);
    if (dz < -1e-12f) t_exit = fminf(t_exit, (lo_z - oz) / dz);
    const float kf = floorf((t_exit - near) / dt - u);  // last step with t_k <= t_exit
    int32_t kn = kf >= (float)n ? n : (int32_t)fmaxf(kf, 0.f);
    k = kn > k + 1 ? kn : k + 1;
  }
  *k_end = k;
  return emitted;
}

// Front-to-back compositing of packed samples [begin, end) of one scene-ray, continuing from
// the optical depth *tau (in/out). Adds to the accumulators; writes T before each used sample
// into trans (if given; unused samples are left untouched).
HF_HD void composite_ray_fwd(const float* sigma, const float* rgb, const float* ts,
                             const float* dts, int64_t begin, int64_t end, float t_thresh,
                             float* tau, float* acc_rgb, float* acc_depth, float* acc_opacity,
                             float* trans) {
  float od = *tau;
  float cr = 0.f, cg = 0.f, cb = 0.f, d = 0.f, o = 0.f;
  for (int64_t i = begin; i < end; ++i) {
    const float T = expf(-od);
    if (T < t_thresh) break;
    const float st = sigma[i] * dts[i];
    const float w = T * (1.f - expf(-st));
    cr += w * rgb[3 * i];
    cg += w * rgb[3 * i + 1];
    cb += w * rgb[3 * i + 2];
    d += w * ts[i];
    o += w;
    if (trans != nullptr) trans[i] = T;
    od += st;
  }
  *tau = od;
  acc_rgb[0] += cr;
  acc_rgb[1] += cg;
  acc_rgb[2] += cb;
  *acc_depth += d;
  *acc_opacity += o;
}

// Gradients of (rgb, depth, opacity) of one scene-ray composited from tau = 0 w.r.t. the
// densities and colours of its samples. out_* are the forward results (without background).
// dC/dsigma_k = dt_k (T_{k+1} c_k - sum_{j>k} w_j c_j), the suffix sum taken as C - C_{<=k}.
HF_HD void composite_ray_bwd(const float* sigma, const float* rgb, const float* ts,
                             const float* dts, int64_t begin, int64_t end, float t_thresh,
                             const float* g_rgb, float g_depth, float g_opacity,
                             const float* out_rgb, float out_depth, float out_opacity,
                             float* grad_sigma, float* grad_rgb) {
  float od = 0.f;
  float cr = 0.f, cg = 0.f, cb = 0.f, d = 0.f, o = 0.f;
  for (int64_t i = begin; i < end; ++i) {
    const float T = expf(-od);
    if (T < t_thresh) break;
    const float st = sigma[i] * dts[i];
    const float e = expf(-st);
    const float w = T * (1.f - e);
    const float r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2], t = ts[i];
    cr += w * r;
    cg += w * g;
    cb += w * b;
    d += w * t;
    o += w;
    const float tn = T * e;
    const float gs = g_rgb[0] * (tn * r - (out_rgb[0] - cr)) +
                     g_rgb[1] * (tn * g - (out_rgb[1] - cg)) +
                     g_rgb[2] * (tn * b - (out_rgb[2] - cb)) +
                     g_depth * (tn * t - (out_depth - d)) + g_opacity * (tn - (out_opacity - o));
    grad_sigma[i] = dts[i] * gs;
    grad_rgb[3 * i] = w * g_rgb[0];
    grad_rgb[3 * i + 1] = w * g_rgb[1];
    grad_rgb[3 * i + 2] = w * g_rgb[2];
    od += st;
  }
}

}  // namespace hf_raymarch
