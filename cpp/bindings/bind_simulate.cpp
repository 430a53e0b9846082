// Bindings for unitcell.hpp, crystal.hpp and simulate.hpp: declarations and array
// plumbing only; the physics lives in cpp/src.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "checks.hpp"

#include "xrdfast/scattering.hpp"
#include "xrdfast/simulate.hpp"

namespace py = pybind11;
using namespace xrdfast;
using bind::CrystalPtr;
using bind::PhaseList;
using bind::grid_from;
using bind::phases_of;

namespace {

py::dict lines_dict(const std::vector<Line>& lines) {
  const auto n = static_cast<py::ssize_t>(lines.size());
  py::array_t<int> hkl({n, py::ssize_t{3}});
  py::array_t<double> d(n), tt(n), f2(n), lp(n), texture(n), intensity(n);
  py::array_t<int> mult(n), phase(n);
  for (py::ssize_t i = 0; i < n; ++i) {
    const Line& l = lines[size_t(i)];
    for (int j = 0; j < 3; ++j) hkl.mutable_at(i, j) = l.hkl[j];
    d.mutable_at(i) = l.d; tt.mutable_at(i) = l.two_theta; f2.mutable_at(i) = l.f2; lp.mutable_at(i) = l.lp;
    texture.mutable_at(i) = l.texture; intensity.mutable_at(i) = l.intensity;
    mult.mutable_at(i) = l.multiplicity; phase.mutable_at(i) = l.phase;
  }
  py::dict out;
  out["hkl"] = hkl; out["d"] = d; out["two_theta"] = tt; out["multiplicity"] = mult; out["f2"] = f2;
  out["lp"] = lp; out["texture"] = texture; out["intensity"] = intensity; out["phase"] = phase;
  return out;
}

}  // namespace

void add_simulate(py::module_& m) {
  py::class_<Crystal, CrystalPtr>(m, "Crystal", "A crystal structure: cell, symmetry operations and sites.")
      .def(py::init([](std::string name, std::array<double, 6> cell, const std::vector<SymOp>& operations,
                       const std::vector<std::string>& labels, const std::vector<std::string>& types,
                       py::array_t<double, py::array::c_style | py::array::forcecast> frac,
                       py::array_t<double, py::array::c_style | py::array::forcecast> occupancy,
                       py::array_t<double, py::array::c_style | py::array::forcecast> b_iso) {
             const size_t n = labels.size();
             if (types.size() != n || frac.ndim() != 2 || size_t(frac.shape(0)) != n || frac.shape(1) != 3 ||
                 size_t(occupancy.size()) != n || size_t(b_iso.size()) != n)
               throw py::value_error("crystal '" + name + "': labels, types, frac (n, 3), occupancy and b_iso must "
                                     "describe the same " + std::to_string(n) + " sites");
             InterruptScope interruptible;  // expanding a large cell takes a while
             std::vector<Site> sites;
             for (size_t i = 0; i < n; ++i) {
               int scatterer;
               try {
                 scatterer = scatterer_index(types[i]);
               } catch (const std::invalid_argument& e) {
                 throw py::value_error("crystal '" + name + "', site '" + labels[i] + "': " + e.what());
               }
               sites.push_back(Site{labels[i], scatterer, {frac.at(i, 0), frac.at(i, 1), frac.at(i, 2)},
                                    occupancy.at(i), b_iso.at(i)});
             }
             try {
               return std::make_shared<Crystal>(name, UnitCell(cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]),
                                                operations, std::move(sites));
             } catch (const std::invalid_argument& e) {
               const std::string what = e.what();
               throw py::value_error(what.rfind("crystal '", 0) == 0 ? what : "crystal '" + name + "': " + what);
             }
           }),
           py::arg("name"), py::arg("cell"), py::arg("operations"), py::arg("labels"), py::arg("types"),
           py::arg("frac"), py::arg("occupancy"), py::arg("b_iso"))
      .def_property_readonly("name", &Crystal::name)
      .def_property_readonly("cell", [](const Crystal& c) {
        const UnitCell& u = c.cell();
        return py::make_tuple(u.a, u.b, u.c, u.alpha, u.beta, u.gamma);
      }, "(a, b, c, alpha, beta, gamma) in Å and degrees.")
      .def_property_readonly("volume", [](const Crystal& c) { return c.cell().volume(); }, "Cell volume, Å^3.")
      .def_property_readonly("cell_mass", &Crystal::cell_mass, "Mass of one cell's content, amu.")
      .def_property_readonly("operations", [](const Crystal& c) { return c.symmetry().all(); })
      .def_property_readonly("n_sites", [](const Crystal& c) { return c.sites().size(); })
      .def_property_readonly("n_atoms", [](const Crystal& c) { return c.atoms().size(); },
                             "Atoms in the full cell, special positions merged.")
      .def("atoms", [](const Crystal& c) {
        const auto& atoms = c.atoms();
        const auto n = static_cast<py::ssize_t>(atoms.size());
        py::array_t<double> frac({n, py::ssize_t{3}});
        py::array_t<double> occ(n), b(n);
        py::array_t<int> site(n);
        for (py::ssize_t i = 0; i < n; ++i) {
          for (int j = 0; j < 3; ++j) frac.mutable_at(i, j) = atoms[size_t(i)].frac[j];
          occ.mutable_at(i) = atoms[size_t(i)].occupancy; b.mutable_at(i) = atoms[size_t(i)].b_iso;
          site.mutable_at(i) = atoms[size_t(i)].site;
        }
        py::dict d;
        d["frac"] = frac; d["occupancy"] = occ; d["b_iso"] = b; d["site"] = site;
        return d;
      }, "The full cell content: frac (n, 3), occupancy, b_iso and the site each atom came from.")
      .def("sites", [](const Crystal& c) {
        const auto& sites = c.sites();
        const auto n = static_cast<py::ssize_t>(sites.size());
        std::vector<std::string> labels, types;
        py::array_t<double> frac({n, py::ssize_t{3}});
        py::array_t<double> occ(n), b(n);
        for (py::ssize_t i = 0; i < n; ++i) {
          const Site& s = sites[size_t(i)];
          labels.push_back(s.label);
          types.push_back(scatterer_label(s.scatterer));
          for (int j = 0; j < 3; ++j) frac.mutable_at(i, j) = s.frac[j];
          occ.mutable_at(i) = s.occupancy;
          b.mutable_at(i) = s.b_iso;
        }
        py::dict d;
        d["labels"] = labels; d["types"] = types; d["frac"] = frac; d["occupancy"] = occ; d["b_iso"] = b;
        return d;
      }, "The asymmetric unit as given: labels, scattering types, frac (n, 3), occupancy, b_iso.")
      .def("__repr__", [](const Crystal& c) {
        return "Crystal('" + c.name() + "', " + std::to_string(c.sites().size()) + " sites, " +
               std::to_string(c.atoms().size()) + " atoms in the cell)";
      });

  py::enum_<Geometry>(m, "Geometry")
      .value("bragg_brentano", Geometry::BraggBrentano)
      .value("debye_scherrer", Geometry::DebyeScherrer);
  py::enum_<ProfileShape>(m, "ProfileShape")
      .value("pseudo_voigt", ProfileShape::PseudoVoigt)
      .value("tch", ProfileShape::ThompsonCoxHastings);
  py::enum_<Radiation>(m, "Radiation").value("xray", Radiation::XRay).value("neutron", Radiation::Neutron);

  py::class_<SimulationParams>(m, "SimulationParams", "Instrument, sample and measurement settings of a pattern.")
      .def(py::init<>())
      .def_readwrite("radiation", &SimulationParams::radiation)
      .def_readwrite("wavelength", &SimulationParams::wavelength, "K-alpha1 (or monochromatic) wavelength, Å.")
      .def_readwrite("wavelength2", &SimulationParams::wavelength2, "K-alpha2 wavelength, Å; 0 for none.")
      .def_readwrite("ka2_ratio", &SimulationParams::ka2_ratio)
      .def_readwrite("anomalous", &SimulationParams::anomalous)
      .def_readwrite("geometry", &SimulationParams::geometry)
      .def_readwrite("monochromator_two_theta", &SimulationParams::monochromator_two_theta)
      .def_readwrite("mu_r", &SimulationParams::mu_r)
      .def_readwrite("shape", &SimulationParams::shape)
      .def_readwrite("U", &SimulationParams::U)
      .def_readwrite("V", &SimulationParams::V)
      .def_readwrite("W", &SimulationParams::W)
      .def_readwrite("X", &SimulationParams::X)
      .def_readwrite("Y", &SimulationParams::Y)
      .def_readwrite("eta", &SimulationParams::eta)
      .def_readwrite("crystallite_size", &SimulationParams::crystallite_size, "nm; 0 for none.")
      .def_readwrite("microstrain", &SimulationParams::microstrain)
      .def_readwrite("scherrer_k", &SimulationParams::scherrer_k)
      .def_readwrite("asymmetry", &SimulationParams::asymmetry)
      .def_readwrite("zero_shift", &SimulationParams::zero_shift, "degrees 2theta")
      .def_readwrite("sample_displacement", &SimulationParams::sample_displacement, "mm")
      .def_readwrite("goniometer_radius", &SimulationParams::goniometer_radius, "mm")
      .def_readwrite("march_dollase_r", &SimulationParams::march_dollase_r)
      .def_readwrite("preferred_orientation", &SimulationParams::preferred_orientation)
      .def_readwrite("background_chebyshev", &SimulationParams::background_chebyshev)
      .def_readwrite("hump_amplitude", &SimulationParams::hump_amplitude)
      .def_readwrite("hump_center", &SimulationParams::hump_center)
      .def_readwrite("hump_fwhm", &SimulationParams::hump_fwhm)
      .def_readwrite("counts", &SimulationParams::counts)
      .def_readwrite("read_noise", &SimulationParams::read_noise)
      .def_readwrite("normalize", &SimulationParams::normalize)
      .def("validate", &SimulationParams::validate)
      .def_static("ranges", [] {
        py::list out;
        for (const ParameterRange& r : parameter_ranges())
          out.append(py::make_tuple(r.name, r.lo, r.hi, r.zero_is_off, r.unit, r.why));
        return out;
      }, "The physical range of each parameter: (name, lo, hi, zero_is_off, unit, why), as validate() checks it.");

  m.attr("MAX_GRID_POINTS") = kMaxGridPoints;
  m.def("simulate_pattern", [](const PhaseList& phases, const SimulationParams& params, const py::handle& grid,
                              std::uint64_t seed) {
    const std::vector<Phase> ph = phases_of(phases);
    const std::vector<double> g = grid_from(grid);
    const Pattern p = bind::interruptible([&] { return simulate(ph, params, g, seed); });
    return py::make_tuple(py::array_t<double>(py::ssize_t(p.intensity.size()), p.intensity.data()), lines_dict(p.lines));
  }, py::arg("phases"), py::arg("params"), py::arg("grid"), py::arg("seed") = 0,
     "One pattern of a mixture [(crystal, weight_fraction), ...]: (intensity, lines).");

  m.def("simulate_patterns", [](const std::vector<PhaseList>& items, const std::vector<SimulationParams>& params,
                               const py::handle& grid, std::uint64_t seed, const py::object& n_threads) {
    const int threads = bind::thread_count(n_threads);
    return bind::run_batch(items, grid, [&](const auto& phases, const auto& g, float* data, auto& errors) {
      simulate_batch(phases, params, g, seed, threads, data, errors);
    });
  }, py::arg("items"), py::arg("params"), py::arg("grid"), py::arg("seed") = 0, py::arg("n_threads") = 0,
     "Patterns of many mixtures as float32 (N, n_points), with one error message per item ('' on success).");
}
