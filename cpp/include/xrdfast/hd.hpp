// XRDFAST_HD marks a function that both the CPU path (OpenMP, simulate.cpp) and the CUDA
// kernels (cpp/cuda/simulate_cuda.cu) call: __host__ __device__ under nvcc, nothing elsewhere.
// The simulator's formulas are written once, in headers, with this mark (profile.hpp,
// render.hpp), so that a change to one reaches both paths.
#pragma once

#ifdef __CUDACC__
#define XRDFAST_HD __host__ __device__
#else
#define XRDFAST_HD
#endif
