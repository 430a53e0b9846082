// Scattering factors for powder-pattern simulation: X-ray form factors of atoms and ions,
// anomalous dispersion at the laboratory K-alpha1 lines, neutron scattering lengths, masses.
//
// X-ray: f0(s) = sum_i a_i exp(-b_i s^2) + c, s = sin(theta)/lambda in 1/A, the 5-Gaussian fits
// of Waasmaier & Kirfel (1995), Acta Cryst. A51, 416, valid to s = 6 1/A, for the neutral atoms
// H..Cf and the 112 ions of that paper. f', f'': Sasaki (1989), KEK Report 88-14, else Henke et
// al. (1993), ADNDT 54, 181. Neutron: bound coherent lengths of Sears (1992), Neutron News 3, 26.
// Generated table: cpp/src/scattering_table.inc (scripts/gen_scattering_tables.py).
//
// Left out on purpose: f', f'' at an arbitrary wavelength (it needs the full Sasaki/Henke energy
// grids; only the six anodes are tabulated); f', f'' for Np..Cf (neither source covers them);
// isotopes (D); the imaginary part of b (absorption: B, Cd, In, Sm, Eu, Gd, Dy); Z > 98; the
// bonded pseudo-atoms of WK1995 (Hiso, Cval, Sival).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "xrdfast/hd.hpp"

namespace xrdfast {

constexpr int kMaxAtomicNumber = 98;  // Cf

// Coefficients of one scatterer, so a hot loop can evaluate f0 over many s without a look-up.
// float: the published coefficients have at most seven significant digits.
struct GaussianFormFactor {
  float a[5];  // electrons
  float b[5];  // A^2
  float c;     // electrons

  // f0 at s^2 = (sin(theta)/lambda)^2 in 1/A^2; summed in double. Host and device (the CUDA
  // structure-factor kernel evaluates it from the same coefficients).
  XRDFAST_HD double at_stol_sq(double stol_sq) const {
    double f = c;
    for (int i = 0; i < 5; ++i) f += a[i] * std::exp(-b[i] * stol_sq);
    return f;
  }
};

// --- Scatterers: rows of the X-ray table. Neutral atom Z is index Z-1; ions follow. ---------

int num_scatterers();
// Index of a scatterer from an atom-type label, case-insensitive in the element symbol:
// "Fe", "FE", "fe", "Fe2+", "Fe+2", "O2-", "O-2", "O1-", "O-" (a bare sign is charge 1).
// Surrounding blanks are ignored. Policy: an ion the table lacks ("Mn7+", "N3-") falls back to
// its neutral atom, the usual practice when no ionic fit exists; compare scatterer_charge()
// with parse_atom_type().charge to detect it. Throws std::invalid_argument naming the label for
// an unknown element ("Xx", "Q", "D") or malformed charge ("Fe2", "O2", "Fe2+3").
int scatterer_index(const std::string& label);

struct AtomType {
  int z;       // 1..98
  int charge;  // formal charge, e.g. +2 for "Fe2+"
};
// The element and charge a label names, whether or not the table has that ion.
AtomType parse_atom_type(const std::string& label);

const GaussianFormFactor& form_factor_coefficients(int scatterer);
double xray_form_factor(int scatterer, double stol);
// f0 at each of n values of s = sin(theta)/lambda (1/A).
void xray_form_factor(int scatterer, const double* stol /* [n] */, std::size_t n, double* f /* [n] */);

const char* scatterer_label(int scatterer);        // canonical: "Fe", "Fe2+", "O1-"
int atomic_number(int scatterer);
int scatterer_charge(int scatterer);
const char* form_factor_source(int scatterer);     // "WK1995" or "IT1992" (ITC Table 6.1.1.4)
std::vector<std::string> scatterer_labels();       // all rows, in index order

// --- Elements, by atomic number Z = 1..98 (std::invalid_argument outside). -----------------

const char* element_symbol(int z);
// Standard atomic weight in g/mol (mass number of the longest-lived isotope where none is
// defined), for weight fractions of phase mixtures.
double atomic_mass(int z);
// Bound coherent scattering length, real part, in fm. Throws std::invalid_argument where Sears
// (1992) has no natural-element value in the table (Po..Ac, Pa, Np..Cf).
double neutron_scattering_length(int z);
bool has_neutron_scattering_length(int z);

enum class Anode { Cu, Mo, Co, Cr, Fe, Ag };
constexpr int kNumAnodes = 6;

// K-alpha1 wavelength in A: Hoelzer et al. (1997), Phys. Rev. A 56, 4554 (Cr, Fe, Co, Cu);
// Deslattes et al. (2003), Rev. Mod. Phys. 75, 35 (Mo, Ag).
double kalpha1_wavelength(Anode anode);
const char* anode_name(Anode anode);
// "Cu", "cu", "CU", "CuKa1", "Cu Ka1", "Cu-Kα1"; std::invalid_argument listing the choices else.
Anode anode_from_name(const std::string& name);
// The anode whose K-alpha1 line is within 0.5 % of `wavelength` (A): Cu's mean K-alpha
// (1.5419 A) is 0.08 % off it, while the closest two anodes (Co, Fe) lie 8 % apart.
// std::invalid_argument when none is, since f', f'' are tabulated only at these lines.
Anode anode_for_wavelength(double wavelength);

// (f', f'') in electrons at the anode's K-alpha1 line. Throws std::invalid_argument for
// Z = 93..98, which neither Sasaki (1989) nor Henke et al. (1993) tabulates.
std::pair<double, double> anomalous_dispersion(int z, Anode anode);
bool has_anomalous_dispersion(int z);
const char* anomalous_dispersion_source(int z);    // "Sasaki1989", "Henke1993" or ""

}  // namespace xrdfast
