// The batch simulator (simulate.hpp's simulate_batch) on a CUDA GPU.
//
// The CPU enumerates each item's reflection families, multiplicities and March-Dollase
// weights (reflections.hpp) and packs them, with the atoms grouped by scatterer and B, into
// flat device arrays; the GPU then computes |F|^2 and the line intensities (one thread per
// reflection), renders the profiles (one block per pattern, atomics in shared memory) and
// adds background, noise and normalisation, with the same formulas as the CPU path. Noise
// draws from the same stream (seed, item index) as the CPU, so patterns agree with
// simulate_batch up to floating-point rounding; they are not promised to be bit-identical.
//
// This header is compiled in every build. Without CUDA (XRDFAST_CUDA undefined) the functions
// come from simulate_cuda_stub.cpp: cuda_available() is false and simulate_batch_cuda throws.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xrdfast/simulate.hpp"

namespace xrdfast {

// True when this build has the CUDA kernels and the process sees at least one CUDA device.
// Never throws: a missing driver or device is a plain false.
bool cuda_available();

// Same contract as simulate_batch: items.size() patterns into out[N, grid.size()] (float32),
// item i with params[i] (or params[0] if one is given) and noise stream i of `seed`; a failing
// item leaves a row of NaN and its message in errors[i] ('' on success). Throws
// std::invalid_argument for a bad grid or parameter count, std::runtime_error when CUDA is
// unavailable (no build support, no device) or a CUDA call fails.
void simulate_batch_cuda(const std::vector<std::vector<Phase>>& items,   // [N][n_phases]
                         const std::vector<SimulationParams>& params,    // [1] or [N]
                         const std::vector<double>& grid,                // [n_points] degrees 2theta
                         std::uint64_t seed,
                         float* out,                                     // [N, n_points]
                         std::vector<std::string>& errors);              // [N], filled

}  // namespace xrdfast
