// Counter-based random streams: pattern i of a batch draws from a stream keyed by
// (seed, i) alone, so results do not depend on thread count or scheduling, and a CUDA
// thread can reproduce the same stream. SplitMix64 seeding (Steele et al. 2014) into
// xoshiro256** (Blackman & Vigna 2018); Poisson by multiplication below mean 10 and by
// Hormann's PTRS transformed rejection (1993) above, as NumPy does.
#pragma once

#include <cmath>
#include <cstdint>

#include "xrdfast/hd.hpp"

namespace xrdfast {

class Rng {
 public:
  XRDFAST_HD Rng(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t x = seed ^ (0x9E3779B97F4A7C15ULL * (stream + 1));
    for (auto& s : s_) s = splitmix(x);
  }
  XRDFAST_HD std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3]; s_[2] ^= t; s_[3] = rotl(s_[3], 45);
    return result;
  }
  XRDFAST_HD double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  XRDFAST_HD double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  XRDFAST_HD double normal() {  // Box-Muller: a pair per logarithm, the second kept for the next call
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = uniform();
    while (u <= 0) u = uniform();
    const double r = std::sqrt(-2.0 * std::log(u)), phi = 2.0 * M_PI * uniform();
    spare_ = r * std::sin(phi);
    has_spare_ = true;
    return r * std::cos(phi);
  }
  XRDFAST_HD double poisson(double mean) {
    if (!(mean > 0)) return 0;
    if (mean < 10) {
      const double limit = std::exp(-mean);
      double product = uniform(), k = 0;
      while (product > limit) { product *= uniform(); k += 1; }
      return k;
    }
    const double slam = std::sqrt(mean), b = 0.931 + 2.53 * slam;
    const double a = -0.059 + 0.02483 * b, vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const double u = uniform() - 0.5, v = uniform(), us = 0.5 - std::fabs(u);
      const double k = std::floor((2 * a / us + b) * u + mean + 0.43);
      if (us >= 0.07 && v <= vr) return k;  // the quick acceptance, ~86 % of draws: no logarithms
      if (k < 0 || (us < 0.013 && v > us)) continue;
      const double invalpha = 1.1239 + 1.1328 / (b - 3.4);
      if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <= -mean + k * std::log(mean) - std::lgamma(k + 1))
        return k;
    }
  }

 private:
  XRDFAST_HD static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  XRDFAST_HD static std::uint64_t splitmix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace xrdfast
