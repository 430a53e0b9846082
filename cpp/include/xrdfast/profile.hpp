// Peak profiles of powder lines, as functions of 2theta in degrees.
//
// Widths: Caglioti, Paoletti & Ricci (1958) for the instrument's Gaussian part,
// H_G^2 = U tan^2(theta) + V tan(theta) + W; Lorentzian H_L = X / cos(theta) + Y tan(theta);
// crystallite size (Scherrer, K lambda / (L cos theta)) adds to the Lorentzian width and
// microstrain (4 e tan theta) to the Gaussian one, as in GSAS's CW profile 2.
// Shapes: pseudo-Voigt with a given mixing eta, or the Thompson-Cox-Hastings (1987)
// pseudo-Voigt whose FWHM and eta follow from H_G and H_L. Axial-divergence asymmetry by
// Rietveld's (1969) factor 1 - P sgn(d) d^2 / tan(theta), which moves intensity from one side
// of the peak to the other without changing its area. Every profile integrates to 1 (per
// degree 2theta). The Gaussian part is drawn within kGaussianReach FWHM; the Lorentzian part
// as far as its tail stays above kTailCut of the strongest peak in the pattern (at least
// kGaussianReach, at most kLorentzianReach FWHM), rescaled for the area its cut tails held.
// Weak lines thus cost a few points instead of eighty FWHM, with the integrated intensity
// of every line kept exact.
#pragma once

#include <cmath>

#include "xrdfast/hd.hpp"

namespace xrdfast {

constexpr double kGaussianReach = 4.0;     // |2theta - 2theta_k| <= 4 FWHM holds all but 1e-10
constexpr double kLorentzianReach = 40.0;  // 40 FWHM holds 99.2 % of a Lorentzian
constexpr double kTailCut = 1e-5;          // Lorentzian tails below 1e-5 of the top peak are cut
constexpr double kDegree = M_PI / 180.0;

struct PeakWidth {
  double fwhm;  // degrees 2theta
  double eta;   // Lorentzian fraction, 0..1
};

// Gaussian and Lorentzian FWHM (degrees 2theta) of a line at Bragg angle theta (radians).
XRDFAST_HD inline void component_widths(double theta, double U, double V, double W, double X, double Y,
                             double wavelength, double size_nm, double strain, double scherrer_k,
                             double* h_gauss, double* h_lorentz) {
  const double t = std::tan(theta), c = std::cos(theta);
  double g2 = U * t * t + V * t + W;
  if (strain > 0) {
    const double hs = 4 * strain * t / kDegree;  // microstrain, degrees
    g2 += hs * hs;
  }
  *h_gauss = std::sqrt(g2 > 0 ? g2 : 0);
  double hl = X / c + Y * t;
  if (size_nm > 0) hl += scherrer_k * wavelength / (size_nm * 10.0 * c) / kDegree;  // size in nm, lambda in Å
  *h_lorentz = hl > 0 ? hl : 0;
}

// Thompson, Cox & Hastings, J. Appl. Cryst. 20, 79 (1987), eqs. 3-4.
XRDFAST_HD inline PeakWidth tch_width(double hg, double hl) {
  const double h = std::pow(std::pow(hg, 5) + 2.69269 * std::pow(hg, 4) * hl + 2.42843 * std::pow(hg, 3) * hl * hl +
                                4.47163 * hg * hg * std::pow(hl, 3) + 0.07842 * hg * std::pow(hl, 4) + std::pow(hl, 5),
                            0.2);
  if (h <= 0) return {0, 0};
  const double q = hl / h;
  return {h, 1.36603 * q - 0.47719 * q * q + 0.11116 * q * q * q};
}

// Unit-area Gaussian and Lorentzian of full width at half maximum `fwhm`, at offset dx.
XRDFAST_HD inline double gaussian(double dx, double fwhm) {
  const double c = 4 * std::log(2.0) / (fwhm * fwhm);
  return std::sqrt(c / M_PI) * std::exp(-c * dx * dx);
}
XRDFAST_HD inline double lorentzian(double dx, double fwhm) {
  const double g = 0.5 * fwhm;
  return g / (M_PI * (dx * dx + g * g));
}
// Height of a unit-area pseudo-Voigt at its centre.
XRDFAST_HD inline double pseudo_voigt_peak(double fwhm, double eta) {
  return eta * 2.0 / (M_PI * fwhm) + (1 - eta) * std::sqrt(4 * std::log(2.0) / M_PI) / fwhm;
}
// Reach (degrees) of the Lorentzian part of a line of integrated intensity `area`: where
// area * eta * L(x) falls to kTailCut * top_height, within [kGaussianReach, kLorentzianReach] FWHM.
XRDFAST_HD inline double lorentzian_reach(double area, double fwhm, double eta, double top_height) {
  const double gamma = 0.5 * fwhm;
  const double x = std::sqrt(area * eta * gamma / (M_PI * kTailCut * top_height));
  return std::fmin(std::fmax(x, kGaussianReach * fwhm), kLorentzianReach * fwhm);
}
// Fraction of a Lorentzian's area within `reach` of its centre.
XRDFAST_HD inline double lorentzian_kept_fraction(double reach, double fwhm) { return 2.0 / M_PI * std::atan(2.0 * reach / fwhm); }

// Rietveld (1969) asymmetry factor, floored at zero.
XRDFAST_HD inline double asymmetry_factor(double dx, double p, double theta) {
  if (p == 0) return 1.0;
  const double a = 1.0 - p * (dx > 0 ? 1.0 : -1.0) * dx * dx / std::tan(theta);
  return a > 0 ? a : 0.0;
}

// How far a peak's two parts are drawn: the Gaussian within kGaussianReach FWHM, the
// Lorentzian within lorentzian_reach and rescaled by the area its cut tails held.
struct PeakReach {
  double gaussian;          // degrees 2theta
  double lorentzian;        // degrees 2theta; 0 for a pure Gaussian
  double lorentzian_scale;  // eta / lorentzian_kept_fraction; 0 for a pure Gaussian
  XRDFAST_HD double widest() const { return gaussian < lorentzian ? lorentzian : gaussian; }
};
XRDFAST_HD inline PeakReach peak_reach(double area, double fwhm, double eta, double top_height) {
  PeakReach r;
  r.gaussian = fwhm * kGaussianReach;
  r.lorentzian = eta > 0 ? lorentzian_reach(area, fwhm, eta, top_height) : 0.0;
  r.lorentzian_scale = eta > 0 ? eta / lorentzian_kept_fraction(r.lorentzian, fwhm) : 0.0;
  return r;
}

// What a peak of integrated intensity `area` adds at offset dx from its centre: each part
// within its reach, times Rietveld's asymmetry factor. The general point-by-point form; the
// CPU path draws symmetric peaks by faster recurrences (simulate.cpp), the same sums.
XRDFAST_HD inline double profile_value(double dx, double area, double fwhm, double eta, double theta, double asymmetry,
                                       const PeakReach& reach) {
  double v = std::fabs(dx) <= reach.lorentzian ? reach.lorentzian_scale * lorentzian(dx, fwhm) : 0.0;
  if (std::fabs(dx) <= reach.gaussian) v += (1 - eta) * gaussian(dx, fwhm);
  return area * v * asymmetry_factor(dx, asymmetry, theta);
}

}  // namespace xrdfast
