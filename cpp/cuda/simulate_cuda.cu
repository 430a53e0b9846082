// simulate_cuda.hpp: the batch simulator on a GPU. Kernels, their launchers, and device
// memory; every formula comes from the headers the CPU path uses (profile.hpp, render.hpp,
// scattering.hpp's form factors, all XRDFAST_HD), and every host step from the CPU path's
// own functions (plan_lines, add_lines, plan_peaks, scattering_groups, check_batch).
//
// Split of the work (per chunk of items, sized so the double-precision scratch stays small):
//   host    reflection families, multiplicities and March-Dollase weights (reflections.hpp),
//           each line's position and LP (add_lines, with |F|^2 left to the GPU), the atoms'
//           scattering groups, and the peak plan (plan_peaks: every K-alpha component's
//           position, width and mixing, grouped into coincident peaks);
//   kernel 1 line_kernel: one thread per reflection: mean |F|^2 of h and -h, then the line's
//           integrated intensity (line_intensity);
//   kernel 2 render_kernel: one block per pattern: the peak groups' areas (group_area) and the
//           strongest peak's height (which sets the Lorentzian tails' reach), then one warp per
//           peak, profile_value added over its window with atomics (shared memory when the row
//           fits);
//   kernel 3 finish_kernel: one block per pattern: background_at, add_noise (thread 0 walks
//           the item's stream in order, exactly as the CPU does), normalisation, float output.
// tests/test_cuda.py holds the two paths to the same patterns (on a GPU).
// Known difference (render.hpp, plan_peaks): the CPU groups coincident peaks after dropping
// those of zero area, this path before (areas are known only on the device).
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
#include "xrdfast/render.hpp"
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

// A scattering group of one phase (reflections.hpp's scattering_groups) with its atoms' range.
struct GroupIn {
  GaussianFormFactor ff;  // Waasmaier-Kirfel coefficients
  double b_iso;           // Å^2
  double fp, fpp;         // anomalous f', f'' (0 unless anomalous)
  double neutron;         // bound coherent length, fm
  int is_neutron;
  int atom_begin, atom_end;
};

struct AtomIn {
  double x, y, z;  // fractional
  double occupancy;
};

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
                            const GroupIn* __restrict__ groups,  // [n_groups]
                            const AtomIn* __restrict__ atoms,            // [n_atoms]
                            const ItemParams* __restrict__ items,        // [n_items]
                            double* __restrict__ intensity) {            // [n_lines] out
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_lines) return;
  const LineIn line = lines[i];
  const double s = 0.5 / line.d, s2 = s * s;  // sin(theta)/lambda
  double fp_re = 0, fp_im = 0, fm_re = 0, fm_im = 0;  // F(h), F(-h)
  for (int g = line.group_begin; g < line.group_end; ++g) {
    const GroupIn& grp = groups[g];
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
      f_re = grp.ff.at_stol_sq(s2) + grp.fp;
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
  const double lp = lorentz_polarisation(std::asin(p.wavelength / (2 * line.d)), p.monochromator_two_theta,
                                         p.debye_scherrer, p.mu_r);
  intensity[i] = line_intensity(line.scale, line.multiplicity, f2, lp, line.texture);
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
    int first;  // the first positive-area member: the peak's centre, width and theta
    const double area = group_area(peaks[g], members, intensity, &first);
    peak_area[g] = area;
    peak_first[g] = first;
    if (first >= 0) {
      const double h = area * pseudo_voigt_peak(members[first].fwhm, members[first].eta);
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
    const PeakReach reach = peak_reach(area, pk.fwhm, pk.eta, top_height);
    // The window by bisection with one point of slack either side, then each part by its exact
    // distance test, as render_pattern does (its windows on uniform grids come by arithmetic).
    const int lo = lower_bound(grid, n, pk.centre - reach.widest()), hi = upper_bound(grid, n, pk.centre + reach.widest());
    for (int i = (lo > 0 ? lo - 1 : 0) + lane; i < (hi < n ? hi + 1 : n); i += 32) {
      const double v = profile_value(grid[i] - pk.centre, area, pk.fwhm, pk.eta, pk.theta, p.asymmetry, reach);
      if (v != 0) atomicAdd(&acc[i], v);
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
  const double unit = background_unit(bragg_max);
  if (p.chebyshev_count > 0 || p.hump_amplitude != 0) {
    const double lo = grid[0], span = grid[n - 1] - grid[0];
    for (int i = threadIdx.x; i < n; i += blockDim.x)
      row[i] += unit * background_at(grid[i], lo, span, chebyshev + p.chebyshev_begin, p.chebyshev_count,
                                     p.hump_amplitude, p.hump_center, p.hump_fwhm);
    __syncthreads();
  }
  if (p.counts > 0 || p.read_noise > 0) {
    const double top = block_max(row, n, scratch);
    // One stream per pattern, drawn in grid order: the CPU's sequence, so thread 0 walks it.
    if (threadIdx.x == 0) add_noise(row, size_t(n), top, seed, p.stream, p.counts, p.read_noise);
    __syncthreads();
  }
  const double scale = normalisation_scale(block_max(row, n, scratch), p.normalize);
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
  std::vector<GroupIn> groups;
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
  const DeviceArray<GroupIn> groups(chunk.groups);
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
  std::vector<GroupIn> groups;  // atom ranges local to `atoms`
  std::vector<AtomIn> atoms;
};

PreparedPhase prepare_phase(const Crystal& crystal, const ScatteringModel& model) {
  const auto& atoms = crystal.atoms();
  std::vector<int> group_of;
  const std::vector<ScatteringGroup> groups = scattering_groups(crystal, model, group_of);  // throws as the CPU
  PreparedPhase out;
  for (size_t g = 0; g < groups.size(); ++g) {
    GroupIn grp{};
    grp.ff = form_factor_coefficients(groups[g].scatterer);
    grp.b_iso = groups[g].b_iso;
    grp.fp = groups[g].fp;
    grp.fpp = groups[g].fpp;
    grp.neutron = groups[g].neutron;
    grp.is_neutron = model.radiation == Radiation::Neutron;
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
  PeakPlan peaks;             // line indices local to `lines`
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
  std::vector<Line> lines;  // positions and LP; f2 and intensity come from line_kernel
  for (size_t ip = 0; ip < phases.size(); ++ip) {
    const Crystal& crystal = *phases[ip].crystal;
    std::vector<Reflection> families = reflection_families(crystal, plan.d_min);
    if (!families.empty()) out.phases.push_back(prepare_phase(crystal, plan.model));  // as the CPU: no lookups without reflections
    else out.phases.emplace_back();
    out.phase_keys.emplace_back(&crystal, int(plan.model.radiation), int(plan.model.anomalous), int(plan.model.anode));
    apply_march_dollase(crystal, p.march_dollase_r, p.preferred_orientation, families);
    add_lines(families, plan, ip, p, tt_min, lines);
  }
  for (const Line& line : lines)
    out.lines.push_back(LineIn{line.hkl[0], line.hkl[1], line.hkl[2], line.multiplicity, line.d, line.texture,
                               plan.scales[size_t(line.phase)], 0, int(out.phases[size_t(line.phase)].groups.size()),
                               line.phase});
  out.peaks = plan_peaks(lines, p, /*areas_known=*/false);
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
          for (GroupIn g : item.phases[ip].groups) {
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
      for (PeakMember m : item.peaks.members) {
        m.line += line0;
        chunk.members.push_back(m);
      }
      for (PeakGroup g : item.peaks.groups) {
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
  check_batch(items.size(), params.size(), grid);
  if (grid.size() > size_t(std::numeric_limits<int>::max()))  // the kernels index points by int
    throw std::invalid_argument("2theta grid has too many points for the CUDA path");
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
