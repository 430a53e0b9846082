// Scattering-factor look-ups over the generated table (see scattering.hpp for the sources).
#include "xrdfast/scattering.hpp"
#include "xrdfast/text.hpp"

#include <cctype>
#include <limits>
#include <stdexcept>

namespace xrdfast {
namespace {

enum FormFactorSource : unsigned char { kWK1995, kIT1992 };
enum AnomalousSource : unsigned char { kSasaki1989, kHenke1993, kNoAnomalous };
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct ScattererRow {
  const char* label;
  int z;
  int charge;
  FormFactorSource source;
  GaussianFormFactor ff;
};

struct ElementRow {
  int z;
  const char* symbol;
  double mass;                 // g/mol
  double neutron_b;            // fm, kNaN where not tabulated
  AnomalousSource anomalous;
  double fp[kNumAnodes];       // f' by Anode, electrons
  double fdp[kNumAnodes];      // f''
};

#include "scattering_table.inc"

constexpr int kNumScatterers = static_cast<int>(sizeof(kScatterers) / sizeof(kScatterers[0]));
static_assert(sizeof(kElements) / sizeof(kElements[0]) == kMaxAtomicNumber,
              "one element row per Z = 1..98");
static_assert(kScatterers[kMaxAtomicNumber - 1].z == kMaxAtomicNumber &&
                  kScatterers[kMaxAtomicNumber].charge != 0,
              "neutral atoms occupy rows 0..97, ions follow");

const char* const kAccepted =
    "expected an element symbol H..Cf (any case) optionally followed by a signed charge, "
    "e.g. Fe, FE, Fe2+, Fe+2, O2-, O-2, O1-, O-";

[[noreturn]] void bad_label(const std::string& label, const std::string& why) {
  throw std::invalid_argument("atom type '" + label + "': " + why + "; " + kAccepted);
}

const ScattererRow& row(int scatterer) {
  if (scatterer < 0 || scatterer >= kNumScatterers)
    throw std::out_of_range("scatterer index " + std::to_string(scatterer) + " is not in 0.." +
                            std::to_string(kNumScatterers - 1));
  return kScatterers[scatterer];
}

const ElementRow& element(int z) {
  if (z < 1 || z > kMaxAtomicNumber)
    throw std::invalid_argument("atomic number " + std::to_string(z) + " is not in 1..98 (H..Cf)");
  return kElements[z - 1];
}

// Z of a symbol compared case-insensitively ("FE", "fe"); 0 when none.
int find_element(const std::string& symbol) {
  for (const ElementRow& e : kElements) {
    const std::string s = e.symbol;
    if (s.size() != symbol.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < s.size(); ++i)
      same = same && std::tolower(static_cast<unsigned char>(s[i])) ==
                         std::tolower(static_cast<unsigned char>(symbol[i]));
    if (same) return e.z;
  }
  return 0;
}

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

AtomType parse_atom_type(const std::string& label) {
  const std::string t = trimmed(label);
  if (t.empty() || !std::isalpha(static_cast<unsigned char>(t[0]))) bad_label(label, "no element symbol");
  // Two-letter symbol first, so "Co" is cobalt and "CO" too; then one letter.
  std::size_t n = 0;
  int z = 0;
  if (t.size() >= 2 && std::isalpha(static_cast<unsigned char>(t[1])) && (z = find_element(t.substr(0, 2))))
    n = 2;
  else if ((z = find_element(t.substr(0, 1))))
    n = 1;
  if (z == 0) {
    const std::string sym = t.substr(0, t.size() >= 2 && std::isalpha(static_cast<unsigned char>(t[1])) ? 2 : 1);
    if (sym == "D" || sym == "T" || sym == "d" || sym == "t")
      bad_label(label, "isotopes are not tabulated (use H: for X-rays D and T scatter as H)");
    bad_label(label, "unknown element '" + sym + "'");
  }
  // Charge: "", "+", "-", "<d>+", "<d>-", "+<d>", "-<d>" with one digit 0..9.
  const std::string q = t.substr(n);
  int charge = 0;
  auto sign = [](char c) { return c == '+' ? 1 : c == '-' ? -1 : 0; };
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  if (q.empty()) {
    charge = 0;
  } else if (q.size() == 1 && sign(q[0])) {
    charge = sign(q[0]);
  } else if (q.size() == 2 && digit(q[0]) && sign(q[1])) {
    charge = (q[0] - '0') * sign(q[1]);
  } else if (q.size() == 2 && sign(q[0]) && digit(q[1])) {
    charge = (q[1] - '0') * sign(q[0]);
  } else if (!q.empty() && digit(q[0]) && q.find_first_not_of("0123456789") == std::string::npos) {
    // "Fe2", "O2": a site label or a charge missing its sign; guessing would be wrong either way.
    bad_label(label, "charge '" + q + "' has no sign");
  } else {
    bad_label(label, "cannot read '" + q + "' as a charge");
  }
  if (charge > z) bad_label(label, "charge exceeds the number of electrons");
  // Oxidation states run from -4 (C in carbides) to +8 (Os, Ru, Xe): 'Na9+' is a typo, and
  // reading it as neutral Na would change the pattern silently.
  if (charge > 8 || charge < -4) bad_label(label, "no element has the oxidation state " + std::to_string(charge));
  return {z, charge};
}

int num_scatterers() { return kNumScatterers; }

int scatterer_index(const std::string& label) {
  const AtomType t = parse_atom_type(label);
  if (t.charge != 0)
    for (int i = kMaxAtomicNumber; i < kNumScatterers; ++i)
      if (kScatterers[i].z == t.z && kScatterers[i].charge == t.charge) return i;
  return t.z - 1;  // the neutral atom, also the documented fallback for an untabulated ion
}

const GaussianFormFactor& form_factor_coefficients(int scatterer) { return row(scatterer).ff; }

double xray_form_factor(int scatterer, double stol) {
  return row(scatterer).ff.at_stol_sq(stol * stol);
}

void xray_form_factor(int scatterer, const double* stol, std::size_t n, double* f) {
  const GaussianFormFactor& ff = row(scatterer).ff;
  for (std::size_t i = 0; i < n; ++i) f[i] = ff.at_stol_sq(stol[i] * stol[i]);
}

const char* scatterer_label(int scatterer) { return row(scatterer).label; }
int atomic_number(int scatterer) { return row(scatterer).z; }
int scatterer_charge(int scatterer) { return row(scatterer).charge; }
const char* form_factor_source(int scatterer) {
  return row(scatterer).source == kWK1995 ? "WK1995" : "IT1992";
}

std::vector<std::string> scatterer_labels() {
  std::vector<std::string> labels;
  labels.reserve(kNumScatterers);
  for (const ScattererRow& r : kScatterers) labels.emplace_back(r.label);
  return labels;
}

const char* element_symbol(int z) { return element(z).symbol; }
double atomic_mass(int z) { return element(z).mass; }

bool has_neutron_scattering_length(int z) { return !std::isnan(element(z).neutron_b); }

double neutron_scattering_length(int z) {
  const ElementRow& e = element(z);
  if (std::isnan(e.neutron_b))
    throw std::invalid_argument(std::string("no neutron scattering length tabulated for ") + e.symbol +
                                " (the table, from Sears 1992, lacks Po..Ac, Pa and Np..Cf)");
  return e.neutron_b;
}

double kalpha1_wavelength(Anode anode) {
  switch (anode) {
    case Anode::Cu: return 1.540593;
    case Anode::Mo: return 0.709317;
    case Anode::Co: return 1.788996;
    case Anode::Cr: return 2.289726;
    case Anode::Fe: return 1.936041;
    case Anode::Ag: return 0.559422;
  }
  throw std::invalid_argument("unknown anode");
}

const char* anode_name(Anode anode) {
  static const char* const names[kNumAnodes] = {"Cu", "Mo", "Co", "Cr", "Fe", "Ag"};
  return names[static_cast<int>(anode)];
}

Anode anode_from_name(const std::string& name) {
  // Lower case without blanks, '-' and '_'; "α" (UTF-8) read as 'a'; an optional "ka1" suffix.
  std::string s;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == 0xCE && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) == 0xB1) {
      s += 'a';
      ++i;
    } else if (!std::isspace(c) && c != '-' && c != '_') {
      s += static_cast<char>(std::tolower(c));
    }
  }
  if (s.size() > 3 && s.compare(s.size() - 3, 3, "ka1") == 0) s.resize(s.size() - 3);
  for (int i = 0; i < kNumAnodes; ++i) {
    const std::string n = anode_name(static_cast<Anode>(i));
    if (s.size() == 2 && std::tolower(static_cast<unsigned char>(n[0])) == s[0] && n[1] == s[1])
      return static_cast<Anode>(i);
  }
  throw std::invalid_argument("anode '" + name + "': expected one of Cu, Mo, Co, Cr, Fe, Ag "
                              "(optionally followed by Ka1)");
}

Anode anode_for_wavelength(double wavelength) {
  constexpr double kTolerance = 0.005;  // relative; see scattering.hpp
  for (int i = 0; i < kNumAnodes; ++i) {
    const Anode a = static_cast<Anode>(i);
    if (std::abs(wavelength - kalpha1_wavelength(a)) <= kTolerance * kalpha1_wavelength(a)) return a;
  }
  throw std::invalid_argument("wavelength " + number_text(wavelength) +
                              " A is not within 0.5 % of the K-alpha1 line of Cu, Mo, Co, Cr, Fe "
                              "or Ag, the only wavelengths with tabulated f', f''");
}

bool has_anomalous_dispersion(int z) { return element(z).anomalous != kNoAnomalous; }

const char* anomalous_dispersion_source(int z) {
  switch (element(z).anomalous) {
    case kSasaki1989: return "Sasaki1989";
    case kHenke1993: return "Henke1993";
    case kNoAnomalous: break;
  }
  return "";
}

std::pair<double, double> anomalous_dispersion(int z, Anode anode) {
  const ElementRow& e = element(z);
  if (e.anomalous == kNoAnomalous)
    throw std::invalid_argument(std::string("no f', f'' for ") + e.symbol +
                                ": Sasaki (1989) and Henke et al. (1993) stop at U");
  const int i = static_cast<int>(anode);
  return {e.fp[i], e.fdp[i]};
}

}  // namespace xrdfast
