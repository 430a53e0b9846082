// simulate_cuda.hpp in a build without CUDA. CMake lists this file in every build; with
// CUDA (XRDFAST_CUDA defined) cpp/cuda/simulate_cuda.cu defines these functions instead.
#include "xrdfast/simulate_cuda.hpp"

#ifndef XRDFAST_CUDA

#include <stdexcept>

namespace xrdfast {

bool cuda_available() { return false; }

void simulate_batch_cuda(const std::vector<std::vector<Phase>>&, const std::vector<SimulationParams>&,
                         const std::vector<double>&, std::uint64_t, float*, std::vector<std::string>&) {
  throw std::runtime_error(
      "xrdfast was built without CUDA (XRDFAST_CUDA=OFF, or no nvcc at build time): use simulate_batch on the "
      "CPU, or reinstall with the CUDA toolkit on PATH (XRDFAST_CUDA=ON pip install .)");
}

}  // namespace xrdfast

#endif  // XRDFAST_CUDA
