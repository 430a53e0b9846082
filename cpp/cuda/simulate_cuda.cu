// simulate_cuda.hpp: the batch simulator on a GPU. Kernels, their launchers, and the host
// function that checks arguments, prepares each item on the CPU and packs the batch.
//
// Split of the work (per chunk of items, sized so the double-precision scratch stays small):
//   host    reflection families, multiplicities and March-Dollase weights (reflections.hpp),
//           atoms grouped by (scatterer, B) as compute_structure_factors groups them; every
//           K-alpha component's position, width and mixing with profile.hpp's own functions
//           (none depends on |F|^2), sorted by position and grouped into coincident peaks as
//           render_pattern merges them;
//   kernel 1 line_kernel: one thread per reflection: mean |F|^2 of h and -h, then the line's
//           integrated intensity s m |F|^2 LP T as powder_lines computes it;
//   kernel 2 render_kernel: one block per pattern: the merged peaks' areas and the strongest
//           peak's height (which sets the Lorentzian tails' reach), then one warp per peak,
//           the profile added over its window with atomics (shared memory when the row fits);
//   kernel 3 finish_kernel: one block per pattern: background and hump, noise (thread 0 walks
//           the item's stream in order, exactly as the CPU does), normalisation, float output.
// The device maths copies simulate.cpp and profile.hpp line by line (profile.hpp's inline
// functions are host-only), as render_pattern stands at commit 6b26672: coincident peaks
// merged, Lorentzian tails cut at kTailCut of the strongest peak. A change there needs its
// twin here; tests/test_cuda.py holds the two paths to the same patterns (on a GPU).
// Known difference: the CPU groups coincident peaks after dropping those of zero area, this
// path before (areas are known only on the device); they differ only if a line of exactly
// zero intensity sits within 1e-7 degrees of two others.
// Left out: splitting one pattern over several blocks (a batch of one pattern uses one SM),
// overlapping host preparation with the kernels.

// Eigen (through crystal.hpp) is host-only here, exactly as in the .cpp files: no device
// annotations, and the same class layout on both sides of the link.
#define EIGEN_NO_CUDA
#pragma nv_diag_suppress 1675  // Eigen's "#pragma GCC optimize" is unknown to the CUDA front end
#include "xrdfast/simulate_cuda.hpp"

#include "xrdfast/crystal.hpp"
#include "xrdfast/profile.hpp"
#include "xrdfast/reflections.hpp"
#include "xrdfast/rng.hpp"
#include "xrdfast/scattering.hpp"
#pragma nv_diag_default 1675

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <thread>
#include <tuple>

namespace xrdfast {

namespace {

// ---- Flat batch layout, shared by host and device --------------------------------------

// What the kernels need of one item's SimulationParams, with its ranges in the chunk's arrays.
struct ItemParams {
  double wavelength, monochromator_two_theta, mu_r;  // Lorentz-polarisation (kernel 1)
  double asymmetry;                                  // profile (kernel 2)
  double hump_amplitude, hump_center, hump_fwhm, counts, read_noise;  // kernel 3
  std::uint64_t stream;                  // noise stream: the item's index in the whole batch
  int debye_scherrer, normalize;
  int chebyshev_begin, chebyshev_count;  // background coefficients in the chunk's array
  int peak_begin, peak_end;              // merged peaks in the chunk's array
  int valid;                             // 0: failed on the host; its row is NaN
};

// A reflection family that can reach the grid.
struct LineIn {
  int h, k, l, multiplicity;
  double d;                    // Å
  double texture;              // March-Dollase weight
  double scale;                // phase weight fraction / (cell mass x cell volume)
  int group_begin, group_end;  // its phase's scattering groups
  int item;                    // chunk-local item index
};

// Atoms of one phase sharing scatterer and B (reflections.cpp's Group), with their f(s) terms.
struct ScatteringGroup {
  double a[5], b[5], c;  // Waasmaier-Kirfel coefficients (the table's floats, widened exactly)
  double b_iso;          // Å^2
  double fp, fpp;        // anomalous f', f'' (0 unless anomalous)
  double neutron;        // bound coherent length, fm
  int is_neutron;
  int atom_begin, atom_end;
};

struct AtomIn {
  double x, y, z;  // fractional
  double occupancy;
};

// One K-alpha component of one line. Everything but the area comes from the host.
struct PeakMember {
  double centre;     // observed 2theta, degrees
  double fwhm, eta;  // degrees 2theta; Lorentzian fraction
  double theta;      // Bragg angle, radians
  double weight;     // 1 for K-alpha1, ka2_ratio for K-alpha2
  double lp_factor;  // LP(theta) / LP(theta of K-alpha1): each component carries its own LP
  int line;          // chunk line index: area = intensity[line] * weight * lp_factor
};

// Members whose centres lie within kCoincidentLines of the first one, drawn as one peak.
struct PeakGroup {
  int member_begin, member_end;
};

// ---- Shared maths (simulate.cpp's anonymous helpers, profile.hpp) -----------------------

// simulate.cpp: lorentz_polarisation. ITC Vol. C 6.2.5, Hewat's cylinder absorption.
XRDFAST_HD double lorentz_polarisation(double theta, const ItemParams& p) {
  const double c2m = std::cos(p.monochromator_two_theta * kDegree), c2 = std::cos(2 * theta);
  const double s = std::sin(theta);
  double lp = (1 + c2m * c2m * c2 * c2) / (s * s * std::cos(theta) * (1 + c2m * c2m));
  if (p.debye_scherrer && p.mu_r > 0) {
    const double s2 = s * s, t1 = 1.7133 - 0.0368 * s2, t2 = -0.0927 - 0.3750 * s2;
    lp *= std::exp(-t1 * p.mu_r - t2 * p.mu_r * p.mu_r);
  }
  return lp;
}


// Device twins of profile.hpp's inline functions (host-only there), same names and maths.
namespace dev {
__device__ double gaussian(double dx, double fwhm) {
  const double c = 4 * std::log(2.0) / (fwhm * fwhm);
  return std::sqrt(c / M_PI) * std::exp(-c * dx * dx);
}
__device__ double lorentzian(double dx, double fwhm) {
  const double g = 0.5 * fwhm;
  return g / (M_PI * (dx * dx + g * g));
}
__device__ double pseudo_voigt_peak(double fwhm, double eta) {
  return eta * 2.0 / (M_PI * fwhm) + (1 - eta) * std::sqrt(4 * std::log(2.0) / M_PI) / fwhm;
}
__device__ double lorentzian_reach(double area, double fwhm, double eta, double top_height) {
  const double gamma = 0.5 * fwhm;
  const double x = std::sqrt(area * eta * gamma / (M_PI * kTailCut * top_height));
  return std::fmin(std::fmax(x, kGaussianReach * fwhm), kLorentzianReach * fwhm);
}
__device__ double lorentzian_kept_fraction(double reach, double fwhm) { return 2.0 / M_PI * std::atan(2.0 * reach / fwhm); }

__device__ double asymmetry_factor(double dx, double p, double theta) {
  if (p == 0) return 1.0;
  const double a = 1.0 - p * (dx > 0 ? 1.0 : -1.0) * dx * dx / std::tan(theta);
  return a > 0 ? a : 0.0;
}
}  // namespace dev

// std::lower_bound / std::upper_bound over a strictly increasing grid.
__device__ int lower_bound(const double* x, int n, double v) {
  int lo = 0, hi = n;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (x[mid] < v) lo = mid + 1; else hi = mid;
  }
  return lo;
}
__device__ int upper_bound(const double* x, int n, double v) {
  int lo = 0, hi = n;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (!(v < x[mid])) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// ---- Kernels ----------------------------------------------------------------------------

// Kernel 1: F(h) = sum_j occ_j f_j(s) exp(-B_j s^2) exp(2 pi i h.x_j) and F(-h), their mean
// |F|^2, and the line intensity scale m |F|^2 LP T (reflections.cpp, simulate.cpp).
__global__ void line_kernel(const LineIn* __restrict__ lines,            // [n_lines]
                            int n_lines,
                            const ScatteringGroup* __restrict__ groups,  // [n_groups]
                            const AtomIn* __restrict__ atoms,            // [n_atoms]
                            const ItemParams* __restrict__ items,        // [n_items]
                            double* __restrict__ intensity) {            // [n_lines] out
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_lines) return;
  const LineIn line = lines[i];
  const double s = 0.5 / line.d, s2 = s * s;  // sin(theta)/lambda
  double fp_re = 0, fp_im = 0, fm_re = 0, fm_im = 0;  // F(h), F(-h)
  for (int g = line.group_begin; g < line.group_end; ++g) {
    const ScatteringGroup& grp = groups[g];
    double sum_re = 0, sum_im = 0;
    for (int j = grp.atom_begin; j < grp.atom_end; ++j) {
      const AtomIn a = atoms[j];
      double sn, cs;
      sincospi(2 * (line.h * a.x + line.k * a.y + line.l * a.z), &sn, &cs);
      sum_re += a.occupancy * cs;
      sum_im += a.occupancy * sn;
    }
    double f_re, f_im;
    if (grp.is_neutron) {
      f_re = grp.neutron;
      f_im = 0;
    } else {
      double f0 = grp.c;  // GaussianFormFactor::at_stol_sq
      for (int q = 0; q < 5; ++q) f0 += grp.a[q] * std::exp(-grp.b[q] * s2);
      f_re = f0 + grp.fp;
      f_im = grp.fpp;
    }
    const double dw = std::exp(-grp.b_iso * s2);
    f_re *= dw;
    f_im *= dw;
    fp_re += f_re * sum_re - f_im * sum_im;  // f sum
    fp_im += f_re * sum_im + f_im * sum_re;
    fm_re += f_re * sum_re + f_im * sum_im;  // f conj(sum)
    fm_im += f_im * sum_re - f_re * sum_im;
  }
  const double f2 = 0.5 * ((fp_re * fp_re + fp_im * fp_im) + (fm_re * fm_re + fm_im * fm_im));
  const ItemParams& p = items[line.item];
  const double lp = lorentz_polarisation(std::asin(p.wavelength / (2 * line.d)), p);
  intensity[i] = line.scale * line.multiplicity * f2 * lp * line.texture;
}

// Largest of 0 and every thread's m over the block (the CPU's `top = 0; top = max(top, v)`).
// Every thread of the block must call it; it returns the same value to all.
__device__ double block_reduce_max(double m, double* scratch /* [32] shared */) {
  for (int off = 16; off > 0; off >>= 1) {
    const double o = __shfl_down_sync(0xffffffffu, m, off);
    m = m < o ? o : m;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = (blockDim.x + 31) >> 5;
  __syncthreads();  // a previous call's result may still be read
  if (lane == 0) scratch[warp] = m;
  __syncthreads();
  if (warp == 0) {
    m = lane < n_warps ? scratch[lane] : 0;
    for (int off = 16; off > 0; off >>= 1) {
      const double o = __shfl_down_sync(0xffffffffu, m, off);
      m = m < o ? o : m;
    }
    if (lane == 0) scratch[0] = m;
  }
  __syncthreads();
  return scratch[0];
}

// Largest of 0 and y[0..n). Callers make their writes to y visible with __syncthreads() first.
__device__ double block_max(const double* y, int n, double* scratch /* [32] shared */) {
  double m = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) m = m < y[i] ? y[i] : m;
  return block_reduce_max(m, scratch);
}

// Kernel 2: the peaks of one pattern (render_pattern's first part). One block per pattern:
// first each merged peak's area (its members' areas summed in centre order, zero-area
// members left out) and the strongest peak's height; then each warp draws one peak, its
// lanes striding over the window.
__global__ void render_kernel(const ItemParams* __restrict__ items,     // [n_items]
                              const PeakGroup* __restrict__ peaks,      // [n_peaks]
                              const PeakMember* __restrict__ members,   // [n_members]
                              const double* __restrict__ intensity,     // [n_lines]
                              const double* __restrict__ grid,          // [n] degrees 2theta
                              int n, int use_shared,
                              double* __restrict__ peak_area,           // [n_peaks] scratch
                              int* __restrict__ peak_first,             // [n_peaks] scratch: member drawn, -1: none
                              double* __restrict__ y) {                 // [n_items, n]
  extern __shared__ double acc_shared[];  // [n] when use_shared
  __shared__ double scratch[32];
  const ItemParams& p = items[blockIdx.x];
  if (!p.valid) return;
  double* row = y + size_t(blockIdx.x) * n;
  double* acc = use_shared ? acc_shared : row;  // the global row was zeroed by the launcher
  if (use_shared)
    for (int i = threadIdx.x; i < n; i += blockDim.x) acc[i] = 0;

  double top = 0;
  for (int g = p.peak_begin + threadIdx.x; g < p.peak_end; g += blockDim.x) {
    double area = 0;
    int first = -1;  // the CPU keeps the first positive-area peak's centre, width and theta
    for (int m = peaks[g].member_begin; m < peaks[g].member_end; ++m) {
      const PeakMember& pm = members[m];
      const double a = intensity[pm.line] * pm.weight * pm.lp_factor;
      if (!(a > 0)) continue;
      if (first < 0) { first = m; area = a; } else { area += a; }
    }
    peak_area[g] = area;
    peak_first[g] = first;
    if (first >= 0) {
      const double h = area * dev::pseudo_voigt_peak(members[first].fwhm, members[first].eta);
      top = top < h ? h : top;
    }
  }
  const double top_height = block_reduce_max(top, scratch);  // also publishes peak_area, peak_first, acc

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  for (int g = p.peak_begin + warp; g < p.peak_end; g += n_warps) {  // uniform across the warp
    const int first = peak_first[g];
    if (first < 0) continue;
    const PeakMember& pk = members[first];
    const double area = peak_area[g];
    const double g_reach = pk.fwhm * kGaussianReach;
    const double l_reach = pk.eta > 0 ? dev::lorentzian_reach(area, pk.fwhm, pk.eta, top_height) : 0.0;
    const double reach = g_reach < l_reach ? l_reach : g_reach;
    const double l_scale = pk.eta > 0 ? pk.eta / dev::lorentzian_kept_fraction(l_reach, pk.fwhm) : 0.0;
    // The window by bisection with one point of slack either side, then each part by its exact
    // distance test, as render_pattern does (its windows on uniform grids come by arithmetic).
    const int lo = lower_bound(grid, n, pk.centre - reach), hi = upper_bound(grid, n, pk.centre + reach);
    for (int i = (lo > 0 ? lo - 1 : 0) + lane; i < (hi < n ? hi + 1 : n); i += 32) {
      const double dx = grid[i] - pk.centre;
      double v = std::fabs(dx) <= l_reach ? l_scale * dev::lorentzian(dx, pk.fwhm) : 0.0;
      if (std::fabs(dx) <= g_reach) v += (1 - pk.eta) * dev::gaussian(dx, pk.fwhm);
      if (v != 0) atomicAdd(&acc[i], area * v * dev::asymmetry_factor(dx, p.asymmetry, pk.theta));
    }
  }
  __syncthreads();
  if (use_shared)
    for (int i = threadIdx.x; i < n; i += blockDim.x) row[i] = acc[i];
}

// Kernel 3: background, noise and normalisation of one pattern (render_pattern after its
// first loop), then the float row.
__global__ void finish_kernel(const ItemParams* __restrict__ items,     // [n_items]
                              const double* __restrict__ chebyshev,     // [n_coefficients]
                              const double* __restrict__ grid,          // [n]
                              int n, std::uint64_t seed,
                              double* __restrict__ y,                   // [n_items, n]
                              float* __restrict__ out) {                // [n_items, n]
  __shared__ double scratch[32];
  const ItemParams& p = items[blockIdx.x];
  if (!p.valid) return;
  double* row = y + size_t(blockIdx.x) * n;
  // Background and amorphous hump, in units of the strongest Bragg point.
  const double bragg_max = block_max(row, n, scratch);
  const double unit = bragg_max > 0 ? bragg_max : 1.0;
  if (p.chebyshev_count > 0 || p.hump_amplitude != 0) {
    const double lo = grid[0], span = grid[n - 1] - grid[0];
    const double* coef = chebyshev + p.chebyshev_begin;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      const double x = span > 0 ? 2 * (grid[i] - lo) / span - 1 : 0;
      double t_prev = 1, t = x, b = 0;
      for (int k = 0; k < p.chebyshev_count; ++k) {
        const double tk = k == 0 ? 1.0 : (k == 1 ? x : 2 * x * t - t_prev);
        if (k >= 2) { t_prev = t; t = tk; }
        b += coef[k] * tk;
      }
      const double dx = grid[i] - p.hump_center;
      b += p.hump_amplitude * std::exp(-4 * std::log(2.0) * dx * dx / (p.hump_fwhm * p.hump_fwhm));
      row[i] += unit * b;
    }
    __syncthreads();
  }
  if (p.counts > 0 || p.read_noise > 0) {
    double top = block_max(row, n, scratch);
    if (top <= 0) top = 1;
    // One stream per pattern, drawn in grid order: the CPU's sequence, so thread 0 walks it.
    if (threadIdx.x == 0) {
      Rng rng(seed, p.stream);
      for (int i = 0; i < n; ++i) {
        double v = row[i] / top;
        if (p.counts > 0) v = rng.poisson((v > 0 ? v : 0.0) * p.counts) / p.counts;
        if (p.read_noise > 0) v += p.read_noise * rng.normal();
        row[i] = v * top;
      }
    }
    __syncthreads();
  }
  double scale = 1.0;
  if (p.normalize) {
    const double top = block_max(row, n, scratch);
    scale = top > 0 ? 1.0 / top : 1.0;
  }
  float* out_row = out + size_t(blockIdx.x) * n;
  for (int i = threadIdx.x; i < n; i += blockDim.x) out_row[i] = float(row[i] * scale);
}

// ---- Launch plumbing --------------------------------------------------------------------

constexpr int kLineBlock = 128;            // threads per block, kernel 1
constexpr int kPatternBlock = 256;         // threads per block (8 warps), kernels 2 and 3
constexpr size_t kScratchBytes = 256u << 20;  // per-chunk device rows (double + float)

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

// Owning device array; freed on scope exit, so a throw leaks nothing.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n = 0) : n_(n) {
    if (n_) check_cuda(cudaMalloc(reinterpret_cast<void**>(&p_), n_ * sizeof(T)), "cudaMalloc");
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    if (n_) check_cuda(cudaMemcpy(p_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  ~DeviceArray() { if (p_) cudaFree(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
  size_t n_;
};

// One chunk of the batch, packed.
struct Chunk {
  std::vector<ItemParams> items;
  std::vector<double> chebyshev;
  std::vector<LineIn> lines;
  std::vector<ScatteringGroup> groups;
  std::vector<AtomIn> atoms;
  std::vector<PeakGroup> peaks;
  std::vector<PeakMember> members;
};

// Launch the three kernels on a packed chunk; rows into out[chunk.items.size(), n] (host).
void run_chunk(const Chunk& chunk, const DeviceArray<double>& grid, int n, std::uint64_t seed, int use_shared,
               double* y, float* d_out, float* out) {
  const int n_items = int(chunk.items.size()), n_lines = int(chunk.lines.size());
  const DeviceArray<ItemParams> items(chunk.items);
  const DeviceArray<double> chebyshev(chunk.chebyshev);
  const DeviceArray<LineIn> lines(chunk.lines);
  const DeviceArray<ScatteringGroup> groups(chunk.groups);
  const DeviceArray<AtomIn> atoms(chunk.atoms);
  const DeviceArray<PeakGroup> peaks(chunk.peaks);
  const DeviceArray<PeakMember> members(chunk.members);
  DeviceArray<double> intensity{size_t(n_lines)}, peak_area{chunk.peaks.size()};
  DeviceArray<int> peak_first{chunk.peaks.size()};
  if (n_lines > 0) {
    line_kernel<<<(n_lines + kLineBlock - 1) / kLineBlock, kLineBlock>>>(lines.get(), n_lines, groups.get(),
                                                                       atoms.get(), items.get(), intensity.get());
    check_cuda(cudaGetLastError(), "line_kernel launch");
  }
  const size_t row_bytes = size_t(n) * sizeof(double);
  if (!use_shared) check_cuda(cudaMemset(y, 0, row_bytes * size_t(n_items)), "cudaMemset");
  render_kernel<<<n_items, kPatternBlock, use_shared ? row_bytes : 0>>>(
      items.get(), peaks.get(), members.get(), intensity.get(), grid.get(), n, use_shared, peak_area.get(),
      peak_first.get(), y);
  check_cuda(cudaGetLastError(), "render_kernel launch");
  finish_kernel<<<n_items, kPatternBlock>>>(items.get(), chebyshev.get(), grid.get(), n, seed, y, d_out);
  check_cuda(cudaGetLastError(), "finish_kernel launch");
  check_cuda(cudaMemcpy(out, d_out, size_t(n_items) * size_t(n) * sizeof(float), cudaMemcpyDeviceToHost),
             "cudaMemcpy to host (a kernel may have failed)");
}

// ---- Host preparation -------------------------------------------------------------------

std::string num(double v) { return std::to_string(v); }

// simulate.cpp's check_grid, same messages.
void check_grid(const std::vector<double>& grid) {
  if (grid.size() < 2) throw std::invalid_argument("2theta grid needs at least 2 points, got " + std::to_string(grid.size()));
  for (size_t i = 0; i < grid.size(); ++i) {
    if (!std::isfinite(grid[i])) throw std::invalid_argument("2theta grid has a non-finite value at index " + std::to_string(i));
    if (i && !(grid[i] > grid[i - 1]))
      throw std::invalid_argument("2theta grid must increase strictly (index " + std::to_string(i) + ")");
  }
  if (grid.front() <= 0 || grid.back() >= 180)
    throw std::invalid_argument("2theta grid must lie inside (0, 180) degrees, got " + num(grid.front()) + ".." + num(grid.back()));
  if (grid.size() > size_t(std::numeric_limits<int>::max()))
    throw std::invalid_argument("2theta grid has too many points for the CUDA path");
}

ItemParams flatten(const SimulationParams& s) {
  ItemParams p{};
  p.wavelength = s.wavelength;
  p.monochromator_two_theta = s.monochromator_two_theta;
  p.mu_r = s.mu_r;
  p.asymmetry = s.asymmetry;
  p.hump_amplitude = s.hump_amplitude; p.hump_center = s.hump_center; p.hump_fwhm = s.hump_fwhm;
  p.counts = s.counts; p.read_noise = s.read_noise;
  p.debye_scherrer = s.geometry == Geometry::DebyeScherrer;
  p.normalize = s.normalize;
  p.chebyshev_count = int(s.background_chebyshev.size());
  return p;
}

// A phase's scattering groups and their atoms (compute_structure_factors' grouping; atoms in
// their original order within a group, so each group's sum runs in the CPU's order).
struct PreparedPhase {
  std::vector<ScatteringGroup> groups;  // atom ranges local to `atoms`
  std::vector<AtomIn> atoms;
};

PreparedPhase scattering_groups(const Crystal& crystal, const ScatteringModel& model) {
  const auto& atoms = crystal.atoms();
  struct Key { int scatterer; double b_iso; };
  std::vector<Key> keys;
  std::vector<int> group_of(atoms.size());
  for (size_t j = 0; j < atoms.size(); ++j) {
    size_t g = 0;
    while (g < keys.size() && !(keys[g].scatterer == atoms[j].scatterer && keys[g].b_iso == atoms[j].b_iso)) ++g;
    if (g == keys.size()) keys.push_back({atoms[j].scatterer, atoms[j].b_iso});
    group_of[j] = int(g);
  }
  PreparedPhase out;
  for (size_t g = 0; g < keys.size(); ++g) {
    ScatteringGroup grp{};
    const GaussianFormFactor& ff = form_factor_coefficients(keys[g].scatterer);
    for (int q = 0; q < 5; ++q) { grp.a[q] = ff.a[q]; grp.b[q] = ff.b[q]; }
    grp.c = ff.c;
    grp.b_iso = keys[g].b_iso;
    const int z = atomic_number(keys[g].scatterer);
    if (model.radiation == Radiation::Neutron) {
      grp.is_neutron = 1;
      grp.neutron = neutron_scattering_length(z);  // throws for elements without a length
    } else if (model.anomalous) {
      const auto [fp, fpp] = anomalous_dispersion(z, model.anode);
      grp.fp = fp;
      grp.fpp = fpp;
    }
    grp.atom_begin = int(out.atoms.size());
    for (size_t j = 0; j < atoms.size(); ++j)
      if (group_of[j] == int(g))
        out.atoms.push_back(AtomIn{atoms[j].frac[0], atoms[j].frac[1], atoms[j].frac[2], atoms[j].occupancy});
    grp.atom_end = int(out.atoms.size());
    out.groups.push_back(grp);
  }
  return out;
}

// One item before packing: powder_lines up to the structure factors, which the GPU computes.
struct PreparedItem {
  ItemParams params{};
  std::vector<double> chebyshev;
  std::vector<LineIn> lines;  // group ranges local to phases[line.item] (item holds the phase index here)
  std::vector<PeakGroup> peaks;       // member ranges local to `members`
  std::vector<PeakMember> members;    // line indices local to `lines`
  std::vector<PreparedPhase> phases;
  std::vector<std::tuple<const Crystal*, int, int, int>> phase_keys;  // crystal and scattering model
  std::string error;          // non-empty: the item failed
};

// powder_lines' checks, order and messages; throws std::exception for the item.
void prepare_item(const std::vector<Phase>& phases, const SimulationParams& p, double tt_min, double tt_max,
                  PreparedItem& out) {
  const LinePlan plan = plan_lines(phases, p, tt_max);  // powder_lines' own checks and settings
  out.params = flatten(p);
  out.chebyshev = p.background_chebyshev;
  const double margin = plan.margin, d_min = plan.d_min;
  const ScatteringModel& model = plan.model;
  for (size_t ip = 0; ip < phases.size(); ++ip) {
    const Crystal& crystal = *phases[ip].crystal;
    const double scale = plan.scales[ip];
    std::vector<Reflection> families = reflection_families(crystal, d_min);
    if (!families.empty()) out.phases.push_back(scattering_groups(crystal, model));  // as the CPU: no lookups without reflections
    else out.phases.emplace_back();
    out.phase_keys.emplace_back(&crystal, int(model.radiation), int(model.anomalous), int(model.anode));
    apply_march_dollase(crystal, p.march_dollase_r, p.preferred_orientation, families);
    for (const Reflection& r : families) {
      const double sin_theta = p.wavelength / (2 * r.d);
      if (sin_theta >= 1) continue;
      const double tt = observed_two_theta(std::asin(sin_theta), p);
      if (tt < tt_min - margin) continue;
      const PreparedPhase& ph = out.phases.back();
      out.lines.push_back(LineIn{r.hkl[0], r.hkl[1], r.hkl[2], r.multiplicity, r.d, r.texture, scale, 0,
                                 int(ph.groups.size()), int(ip)});
    }
  }
  // render_pattern's peaks: each component's position, width and mixing (profile.hpp, on the
  // host as on the CPU path), sorted by position and grouped where they coincide.
  struct Component { double lambda, weight; };
  const Component comps[2] = {{p.wavelength, 1.0}, {p.wavelength2, p.ka2_ratio}};
  const int n_comp = (p.wavelength2 > 0 && p.ka2_ratio > 0) ? 2 : 1;
  for (size_t li = 0; li < out.lines.size(); ++li) {
    const double d = out.lines[li].d;
    const double lp1 = lorentz_polarisation(std::asin(p.wavelength / (2 * d)), out.params);  // the CPU's Line::lp
    for (int c = 0; c < n_comp; ++c) {
      const double sin_theta = comps[c].lambda / (2 * d);
      if (sin_theta >= 1) continue;
      const double theta = std::asin(sin_theta);
      const double lp_factor = c == 0 ? 1.0 : lorentz_polarisation(theta, out.params) / lp1;
      double hg, hl;
      component_widths(theta, p.U, p.V, p.W, p.X, p.Y, comps[c].lambda, p.crystallite_size, p.microstrain,
                       p.scherrer_k, &hg, &hl);
      PeakWidth w = hl == 0 ? PeakWidth{hg, 0.0} : tch_width(hg, hl);
      if (p.shape == ProfileShape::PseudoVoigt) w.eta = p.eta;
      if (!(w.fwhm > 0)) continue;
      out.members.push_back(
          PeakMember{observed_two_theta(theta, p), w.fwhm, w.eta, theta, comps[c].weight, lp_factor, int(li)});
    }
  }
  std::sort(out.members.begin(), out.members.end(),
            [](const PeakMember& a, const PeakMember& b) { return a.centre < b.centre; });
  for (size_t m = 0; m < out.members.size(); ++m) {
    if (!out.peaks.empty() &&
        std::abs(out.members[m].centre - out.members[size_t(out.peaks.back().member_begin)].centre) < kCoincidentLines)
      out.peaks.back().member_end = int(m + 1);
    else
      out.peaks.push_back(PeakGroup{int(m), int(m + 1)});
  }
}

// Run f(i) for i in [0, n) on the hardware threads; f must not throw.
template <typename F>
void parallel_for(size_t n, F f) {
  const size_t n_threads = std::min<size_t>(n, std::max(1u, std::thread::hardware_concurrency()));
  if (n_threads <= 1) {
    for (size_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (size_t t = 0; t < n_threads; ++t)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < n;) f(i);
    });
  for (auto& th : pool) th.join();
}

// Pack prepared items into a chunk; a crystal shared by items (same scattering model) is
// uploaded once.
void pack(std::vector<PreparedItem>& prepared, Chunk& chunk) {
  std::map<std::tuple<const Crystal*, int, int, int>, int> group_offset;
  for (size_t i = 0; i < prepared.size(); ++i) {
    PreparedItem& item = prepared[i];
    ItemParams p = item.params;
    p.valid = item.error.empty();
    p.peak_begin = p.peak_end = int(chunk.peaks.size());
    p.chebyshev_begin = int(chunk.chebyshev.size());
    if (p.valid) {
      std::vector<int> offsets(item.phases.size());
      for (size_t ip = 0; ip < item.phases.size(); ++ip) {
        auto [it, inserted] = group_offset.emplace(item.phase_keys[ip], int(chunk.groups.size()));
        if (inserted) {
          const int atom0 = int(chunk.atoms.size());
          for (ScatteringGroup g : item.phases[ip].groups) {
            g.atom_begin += atom0;
            g.atom_end += atom0;
            chunk.groups.push_back(g);
          }
          chunk.atoms.insert(chunk.atoms.end(), item.phases[ip].atoms.begin(), item.phases[ip].atoms.end());
        }
        offsets[ip] = it->second;
      }
      const int line0 = int(chunk.lines.size()), member0 = int(chunk.members.size());
      for (LineIn line : item.lines) {
        const int base = offsets[size_t(line.item)];
        line.group_begin += base;
        line.group_end += base;
        line.item = int(i);
        chunk.lines.push_back(line);
      }
      for (PeakMember m : item.members) {
        m.line += line0;
        chunk.members.push_back(m);
      }
      for (PeakGroup g : item.peaks) {
        g.member_begin += member0;
        g.member_end += member0;
        chunk.peaks.push_back(g);
      }
      p.peak_end = int(chunk.peaks.size());
      chunk.chebyshev.insert(chunk.chebyshev.end(), item.chebyshev.begin(), item.chebyshev.end());
    } else {
      p.chebyshev_count = 0;
    }
    chunk.items.push_back(p);
    if (chunk.members.size() > size_t(std::numeric_limits<int>::max()))
      throw std::runtime_error("CUDA batch chunk has too many lines");
  }
}

}  // namespace

bool cuda_available() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // clear it: no driver or no device is an answer, not a failure
    return false;
  }
  return count > 0;
}

void simulate_batch_cuda(const std::vector<std::vector<Phase>>& items, const std::vector<SimulationParams>& params,
                         const std::vector<double>& grid, std::uint64_t seed, float* out,
                         std::vector<std::string>& errors) {
  check_grid(grid);
  if (params.size() != 1 && params.size() != items.size())
    throw std::invalid_argument("give one parameter set, or one per structure (" + std::to_string(items.size()) +
                                "), not " + std::to_string(params.size()));
  errors.assign(items.size(), std::string());
  if (items.empty()) return;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    throw std::runtime_error(std::string("no CUDA device available (") +
                             (status != cudaSuccess ? cudaGetErrorString(status) : "the driver reports none") +
                             "): use simulate_batch on the CPU");
  }
  int device = 0, smem_optin = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), "cudaDeviceGetAttribute");
  const int n = int(grid.size());
  const size_t row_bytes = size_t(n) * sizeof(double);
  // Accumulate a row in shared memory when it fits beside the kernel's own 256 bytes (8501
  // points: 68 KB); else global atomics.
  const int use_shared = row_bytes + 1024 <= size_t(smem_optin);
  if (use_shared)
    check_cuda(cudaFuncSetAttribute(render_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(row_bytes)),
               "cudaFuncSetAttribute");

  const size_t n_items = items.size();
  const size_t chunk_size = std::max<size_t>(1, std::min(n_items, kScratchBytes / (size_t(n) * (sizeof(double) + sizeof(float)))));
  const DeviceArray<double> d_grid(grid);
  DeviceArray<double> y{chunk_size * size_t(n)};
  DeviceArray<float> d_out{chunk_size * size_t(n)};
  for (size_t start = 0; start < n_items; start += chunk_size) {
    const size_t count_here = std::min(chunk_size, n_items - start);
    std::vector<PreparedItem> prepared(count_here);
    parallel_for(count_here, [&](size_t k) {
      const size_t i = start + k;
      try {
        prepare_item(items[i], params.size() == 1 ? params[0] : params[i], grid.front(), grid.back(), prepared[k]);
      } catch (const std::exception& e) {
        prepared[k].error = e.what();
        if (prepared[k].error.empty()) prepared[k].error = "simulation failed";
      }
      prepared[k].params.stream = std::uint64_t(i);
    });
    Chunk chunk;
    pack(prepared, chunk);
    float* rows = out + start * size_t(n);
    run_chunk(chunk, d_grid, n, seed, use_shared, y.get(), d_out.get(), rows);
    for (size_t k = 0; k < count_here; ++k)
      if (!prepared[k].error.empty()) {
        errors[start + k] = prepared[k].error;
        std::fill(rows + k * size_t(n), rows + (k + 1) * size_t(n), std::numeric_limits<float>::quiet_NaN());
      }
  }
}

}  // namespace xrdfast
