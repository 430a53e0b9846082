#include "xrdfast/render.hpp"

#include <algorithm>
#include <cmath>

namespace xrdfast {

PeakPlan plan_peaks(const std::vector<Line>& lines, const SimulationParams& p, bool areas_known) {
  PeakPlan plan;
  plan.members.reserve(2 * lines.size());
  struct Component { double lambda, weight; };
  const Component comps[2] = {{p.wavelength, 1.0}, {p.wavelength2, p.ka2_ratio}};
  const int n_comp = (p.wavelength2 > 0 && p.ka2_ratio > 0) ? 2 : 1;
  for (size_t li = 0; li < lines.size(); ++li) {
    const Line& line = lines[li];
    for (int c = 0; c < n_comp; ++c) {
      const double sin_theta = comps[c].lambda / (2 * line.d);
      if (sin_theta >= 1) continue;
      const double theta = std::asin(sin_theta);
      // Each component carries its own LP; the line records the K-alpha1 one.
      const double lp_factor = c == 0 ? 1.0 : lorentz_polarisation(theta, p) / line.lp;
      double hg, hl;
      component_widths(theta, p.U, p.V, p.W, p.X, p.Y, comps[c].lambda, p.crystallite_size, p.microstrain,
                       p.scherrer_k, &hg, &hl);
      PeakWidth w = hl == 0 ? PeakWidth{hg, 0.0} : tch_width(hg, hl);
      if (p.shape == ProfileShape::PseudoVoigt) w.eta = p.eta;
      if (!(w.fwhm > 0)) continue;
      const PeakMember member{observed_two_theta(theta, p), w.fwhm, w.eta, theta, comps[c].weight, lp_factor, int(li)};
      if (areas_known && !(line.intensity * member.weight * member.lp_factor > 0)) continue;
      plan.members.push_back(member);
    }
  }
  std::sort(plan.members.begin(), plan.members.end(),
            [](const PeakMember& a, const PeakMember& b) { return a.centre < b.centre; });
  for (size_t m = 0; m < plan.members.size(); ++m) {
    if (!plan.groups.empty() &&
        std::abs(plan.members[m].centre - plan.members[size_t(plan.groups.back().member_begin)].centre) < kCoincidentLines)
      plan.groups.back().member_end = int(m + 1);
    else
      plan.groups.push_back(PeakGroup{int(m), int(m + 1)});
  }
  return plan;
}

}  // namespace xrdfast
