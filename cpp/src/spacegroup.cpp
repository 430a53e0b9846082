#include "xrdfast/spacegroup.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <tuple>
#include <cctype>

#include "xrdfast/hall.hpp"

namespace xrdfast {

const std::vector<SettingRow>& setting_table() {
  static const std::vector<SettingRow> rows = {
#include "spacegroup_table.inc"
  };
  return rows;
}

const char* name(CrystalSystem s) {
  static const char* n[] = {"triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic"};
  return n[static_cast<int>(s)];
}

const char* name(LatticeSystem s) {
  static const char* n[] = {"triclinic", "monoclinic", "orthorhombic", "tetragonal", "rhombohedral", "hexagonal", "cubic"};
  return n[static_cast<int>(s)];
}

CrystalSystem crystal_system_of(int number) {
  if (number < 1 || number > 230)
    throw std::invalid_argument("space-group number " + std::to_string(number) + " is outside 1..230");
  if (number <= 2) return CrystalSystem::Triclinic;
  if (number <= 15) return CrystalSystem::Monoclinic;
  if (number <= 74) return CrystalSystem::Orthorhombic;
  if (number <= 142) return CrystalSystem::Tetragonal;
  if (number <= 167) return CrystalSystem::Trigonal;
  if (number <= 194) return CrystalSystem::Hexagonal;
  return CrystalSystem::Cubic;
}

namespace {

// Geometric crystal class from the rotation types it contains (each of the 32 classes has
// a distinct census of proper/improper 1-, 2-, 3-, 4-, 6-fold operations).
std::string crystal_class(const std::vector<Mat3i>& rotations) {
  int n2 = 0, n3 = 0, n4 = 0, n6 = 0, m = 0, inv = 0, s4 = 0, s6 = 0;  // s4 = -4, s6 = -6
  for (const Mat3i& r : rotations) {
    const int det = determinant(r), tr = trace(r);
    if (det == 1) {
      n2 += tr == -1; n3 += tr == 0; n4 += tr == 1; n6 += tr == 2;
    } else {
      inv += tr == -3; m += tr == 1; s4 += tr == -1; s6 += tr == -2;
    }
  }
  const size_t order = rotations.size();
  if (n3 == 8) {  // cubic: four 3-fold axes
    if (order == 12) return "23";
    if (order == 48) return "m-3m";
    return inv ? "m-3" : (n4 ? "432" : "-43m");
  }
  if (n3 == 2) {  // one 3-fold axis: trigonal and hexagonal
    if (order == 3) return "3";
    if (order == 6) return inv ? "-3" : n6 ? "6" : s6 ? "-6" : n2 ? "32" : "3m";
    if (order == 12) return n6 ? (inv ? "6/m" : n2 == 7 ? "622" : "6mm") : (inv ? "-3m" : "-6m2");
    return "6/mmm";
  }
  if (n4) {
    if (order == 4) return "4";
    if (order == 8) return inv ? "4/m" : n2 == 5 ? "422" : "4mm";
    return "4/mmm";
  }
  if (s4) return order == 4 ? "-4" : "-42m";
  switch (order) {
    case 1: return "1";
    case 2: return inv ? "-1" : n2 ? "2" : "m";
    case 4: return inv ? "2/m" : n2 == 3 ? "222" : "mm2";
    default: return "mmm";
  }
}

int dot24(const Vec3i& h, const Vec3i& t) { return h[0] * t[0] + h[1] * t[1] + h[2] * t[2]; }

// Element-wise equality; std::array's operator== goes through memcmp, slow in hot loops.
inline bool same(const Vec3i& a, const Vec3i& b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; }

Vec3i row_times(const Vec3i& h, const Mat3i& r) {  // h R, h a row vector
  Vec3i out{};
  for (int j = 0; j < 3; ++j) out[j] = h[0] * r[0][j] + h[1] * r[1][j] + h[2] * r[2][j];
  return out;
}

Vec3i cross(const Vec3i& a, const Vec3i& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}

Vec3i primitive(Vec3i v) {
  const int g = std::gcd(std::gcd(std::abs(v[0]), std::abs(v[1])), std::abs(v[2]));
  if (g > 1) for (int& x : v) x /= g;
  // sign convention: first nonzero component positive
  for (int x : v)
    if (x != 0) {
      if (x < 0) for (int& y : v) y = -y;
      break;
    }
  return v;
}

// ---- Reflection conditions ---------------------------------------------------------
//
// A "class" of reflections (ITA 1.6.3) is the lattice of h left fixed by some rotation:
// hkl (identity), a zone such as h0l or hhl (a mirror), or a row such as 00l (an axis).
// Every operation that fixes the whole class imposes h.t = integer on it; these linear
// congruences, reduced and printed, are the reflection conditions.

struct ReflectionClass {
  int rank = 3;
  std::vector<int> free;           // indices (0=h, 1=k, 2=l) of the free variables
  std::vector<Vec3i> basis;        // lattice basis, one vector per free variable
  std::string label;               // e.g. "h0l"
};

struct Congruence {
  int modulus;
  std::vector<int> coef;  // one per free variable, in (-modulus/2, modulus/2]
  int support() const { return static_cast<int>(std::count_if(coef.begin(), coef.end(), [](int c) { return c != 0; })); }
  bool operator<(const Congruence& o) const { return modulus != o.modulus ? modulus < o.modulus : coef < o.coef; }
  bool holds(const std::vector<int>& u) const {
    long s = 0;
    for (size_t j = 0; j < u.size(); ++j) s += static_cast<long>(coef[j]) * u[j];
    return s % modulus == 0;
  }
};

const char kVar[] = "hkl";

int centred_residue(int a, int n) {  // a mod n, in (-n/2, n/2]
  a = ((a % n) + n) % n;
  return 2 * a > n ? a - n : a;
}

std::string term(int coef, const std::string& var) {
  if (coef == 1) return var;
  if (coef == -1) return "-" + var;
  return std::to_string(coef) + var;
}

ReflectionClass make_class(int rank, const Vec3i& v) {  // v: row direction or zone normal
  ReflectionClass c;
  c.rank = rank;
  if (rank == 1) {
    int p = 0;
    while (std::abs(v[p]) != 1) ++p;  // crystallographic rows have a unit component
    c.free = {p};
    c.basis = {v[p] == 1 ? v : Vec3i{-v[0], -v[1], -v[2]}};
    for (int i = 0; i < 3; ++i) c.label += v[i] == 0 ? "0" : term(c.basis[0][i], std::string(1, kVar[p]));
  } else {
    int d = std::abs(v[1]) == 1 ? 1 : std::abs(v[0]) == 1 ? 0 : 2;  // dependent index
    for (int i = 0; i < 3; ++i)
      if (i != d) {
        c.free.push_back(i);
        Vec3i b{};
        b[i] = 1;
        b[d] = -v[i] * v[d];  // v[d] = +-1 so 1/v[d] = v[d]
        c.basis.push_back(b);
      }
    for (int i = 0; i < 3; ++i) {
      if (i != d) { c.label += kVar[i]; continue; }
      std::string e;
      for (size_t j = 0; j < 2; ++j) {
        const int coef = c.basis[j][d];
        if (coef == 0) continue;
        std::string t = term(coef, std::string(1, kVar[c.free[j]]));
        e += (!e.empty() && t[0] != '-') ? "+" + t : t;
      }
      if (e.empty()) e = "0";
      c.label += (e.size() > 2 || (e.size() == 2 && e[0] != '-')) ? "(" + e + ")" : e;
    }
  }
  return c;
}

// Congruence sum_j (raw_j / g) u_j = 0 (mod n), reduced to modulus q (q divides n), with
// coefficients in (-q/2, q/2] and the sign that gives fewer minus signs (ties: first
// coefficient positive), so that equivalent conditions compare equal.
Congruence canonical_congruence(const std::vector<int>& raw, int g, int n, int q) {
  Congruence k{q, {}};
  for (int r : raw) k.coef.push_back(centred_residue((r / g) % n, q));
  Congruence neg{q, {}};
  for (int a : k.coef) neg.coef.push_back(centred_residue(-a, q));
  auto minus = [](const Congruence& c) { return std::count_if(c.coef.begin(), c.coef.end(), [](int a) { return a < 0; }); };
  if (minus(neg) < minus(k)) return neg;
  if (minus(neg) == minus(k))
    for (size_t j = 0; j < k.coef.size(); ++j)
      if (k.coef[j] != 0) return k.coef[j] > 0 ? k : neg;
  return k;
}

bool same_support(const Congruence& a, const Congruence& b) {
  if (a.coef.size() != b.coef.size()) return false;
  for (size_t j = 0; j < a.coef.size(); ++j)
    if ((a.coef[j] != 0) != (b.coef[j] != 0)) return false;
  return true;
}

std::vector<Congruence> class_congruences(const ReflectionClass& c, const std::vector<SymOp>& ops) {
  std::set<Congruence> found;
  for (const SymOp& op : ops) {
    bool fixes = true;
    for (const Vec3i& b : c.basis) fixes = fixes && row_times(b, op.rot) == b;
    if (!fixes) continue;
    std::vector<int> raw;
    int g = kTransDen;
    for (const Vec3i& b : c.basis) {
      raw.push_back(((dot24(b, op.tran) % kTransDen) + kTransDen) % kTransDen);
      g = std::gcd(g, raw.back());
    }
    const int n = kTransDen / g;
    if (n == 1) continue;
    // A composite modulus whose prime-power parts involve different indices reads better
    // split (R-3c: "2k-l=6n" is "k+l=3n, l=2n"); "l=6n" stays whole.
    std::vector<Congruence> parts;
    int p2 = 1;
    while (n % (p2 * 2) == 0) p2 *= 2;
    if (p2 > 1 && n / p2 > 1) {
      const Congruence two = canonical_congruence(raw, g, n, p2), three = canonical_congruence(raw, g, n, n / p2);
      if (!same_support(two, three)) parts = {two, three};
    }
    if (parts.empty()) parts = {canonical_congruence(raw, g, n, n)};
    for (const Congruence& k : parts)
      if (k.support() > 0) found.insert(k);
  }
  return {found.begin(), found.end()};
}

bool implied(const Congruence& c, const std::vector<const Congruence*>& by, int rank) {
  std::vector<int> u(rank, 0);
  const int period = kTransDen;
  const int total = rank == 1 ? period : rank == 2 ? period * period : period * period * period;
  for (int idx = 0; idx < total; ++idx) {
    for (int j = 0, r = idx; j < rank; ++j, r /= period) u[j] = r % period;
    bool all = true;
    for (const Congruence* b : by) all = all && b->holds(u);
    if (all && !c.holds(u)) return false;
  }
  return true;
}

std::string format_conditions(const ReflectionClass& c, std::vector<Congruence> conds) {
  // Drop a condition that another single condition implies ("l=2n" beside "2h+l=4n"), or
  // that simpler ones (fewer indices) imply together with those already kept. Conditions
  // with nothing simpler beside them all stay, as ITA writes "hkl: h+k,h+l,k+l=2n".
  std::sort(conds.begin(), conds.end(), [](const Congruence& a, const Congruence& b) {
    return a.support() != b.support() ? a.support() < b.support() : b < a;
  });
  std::vector<Congruence> kept;
  for (size_t i = 0; i < conds.size(); ++i) {
    const Congruence& k = conds[i];
    bool redundant = false;
    std::vector<const Congruence*> simpler;
    for (size_t j = 0; j < conds.size() && !redundant; ++j) {
      if (j == i) continue;
      redundant = implied(k, {&conds[j]}, c.rank) && !(implied(conds[j], {&k}, c.rank) && j > i);
      if (conds[j].support() < k.support()) simpler.push_back(&conds[j]);
    }
    if (!redundant && !simpler.empty()) {
      for (const Congruence& kk : kept)
        if (kk.support() == k.support()) simpler.push_back(&kk);
      redundant = implied(k, simpler, c.rank);
    }
    if (!redundant) kept.push_back(k);
  }
  if (kept.empty()) return "";
  std::sort(kept.begin(), kept.end(), [](const Congruence& a, const Congruence& b) {
    if (a.modulus != b.modulus) return a.modulus > b.modulus;
    if (a.support() != b.support()) return a.support() > b.support();
    return a.coef > b.coef;
  });
  std::string out = c.label + ": ";
  for (size_t i = 0; i < kept.size(); ++i) {
    std::string expr;
    for (size_t j = 0; j < kept[i].coef.size(); ++j) {
      if (!kept[i].coef[j]) continue;
      std::string t = term(kept[i].coef[j], std::string(1, kVar[c.free[j]]));
      expr += (!expr.empty() && t[0] != '-') ? "+" + t : t;
    }
    const bool last_of_modulus = i + 1 == kept.size() || kept[i + 1].modulus != kept[i].modulus;
    out += expr + (last_of_modulus ? "=" + std::to_string(kept[i].modulus) + "n" + (i + 1 < kept.size() ? ", " : "") : ",");
  }
  return out;
}

// Preference among symmetry-equivalent classes: small coefficients, few minus signs,
// zones written as 0kl/h0l/hk0 and rows as h00, as in ITA.
std::tuple<int, int, std::string> class_preference(const ReflectionClass& c) {
  int big = 0;
  for (const Vec3i& b : c.basis)
    for (int x : b) big = std::max(big, std::abs(x));
  const int minus = static_cast<int>(std::count(c.label.begin(), c.label.end(), '-'));
  std::string key = c.label;
  if (c.rank == 1)
    for (char& ch : key) ch = static_cast<char>(255 - static_cast<unsigned char>(ch));
  return {big, minus, key};
}

std::vector<std::string> derive_conditions(const std::vector<SymOp>& ops, const std::vector<Mat3i>& rotations) {
  // Fixed lattices of every rotation, grouped into orbits under the point group.
  std::vector<std::pair<int, Vec3i>> classes;  // (rank, primitive row direction or zone normal)
  for (const Mat3i& r : rotations) {
    std::vector<Vec3i> fixed;
    for (int h = -2; h <= 2; ++h)
      for (int k = -2; k <= 2; ++k)
        for (int l = -2; l <= 2; ++l) {
          const Vec3i v{h, k, l};
          if (v != Vec3i{0, 0, 0} && row_times(v, r) == v) fixed.push_back(v);
        }
    if (fixed.empty() || r == kIdentity) continue;
    Vec3i normal{0, 0, 0};
    for (size_t i = 1; i < fixed.size() && normal == Vec3i{0, 0, 0}; ++i) normal = cross(fixed[0], fixed[i]);
    const auto cls = normal == Vec3i{0, 0, 0} ? std::make_pair(1, primitive(fixed[0])) : std::make_pair(2, primitive(normal));
    if (std::find(classes.begin(), classes.end(), cls) == classes.end()) classes.push_back(cls);
  }
  std::vector<bool> done(classes.size(), false);
  std::vector<std::pair<int, std::string>> lines;  // (rank, text)
  {
    const ReflectionClass general{3, {0, 1, 2}, {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, "hkl"};
    const std::string text = format_conditions(general, class_congruences(general, ops));
    if (!text.empty()) lines.push_back({3, text});
  }
  for (size_t i = 0; i < classes.size(); ++i) {
    if (done[i]) continue;
    ReflectionClass best = make_class(classes[i].first, classes[i].second);
    for (const Mat3i& r : rotations) {  // the orbit of class i
      Vec3i image;
      if (classes[i].first == 1) {
        image = primitive(row_times(classes[i].second, r));
      } else {
        const ReflectionClass ci = make_class(2, classes[i].second);
        image = primitive(cross(row_times(ci.basis[0], r), row_times(ci.basis[1], r)));
      }
      const auto it = std::find(classes.begin(), classes.end(), std::make_pair(classes[i].first, image));
      if (it == classes.end()) continue;
      const size_t j = static_cast<size_t>(it - classes.begin());
      done[j] = true;
      ReflectionClass cj = make_class(classes[j].first, classes[j].second);
      if (class_preference(cj) < class_preference(best)) best = cj;
    }
    const std::string text = format_conditions(best, class_congruences(best, ops));
    if (!text.empty()) lines.push_back({best.rank, text});
  }
  std::stable_sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& l : lines) out.push_back(l.second);
  return out;
}

std::string normalise_symbol(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ' ' && c != '_') out += c;
  return out;
}

// Hall symbols are space-sensitive ("P 3 2" is P312, "P 32" is P3_2): collapse runs only.
std::string collapse_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string lowered(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Registry {
  std::mutex mutex;
  std::vector<std::unique_ptr<SpaceGroup>> groups = std::vector<std::unique_ptr<SpaceGroup>>(setting_table().size());
  std::map<std::string, int> by_symbol;          // normalised symbol -> hall number
  std::map<std::string, std::vector<int>> by_lower;  // lower-cased, for forgiving lookup
  std::vector<int> default_setting = std::vector<int>(231, 0);

  Registry() {
    auto add = [&](const std::string& key, int hall_number) {
      by_symbol.emplace(normalise_symbol(key), hall_number);
    };
    for (const SettingRow& r : setting_table()) {
      if (!default_setting[r.number]) {
        default_setting[r.number] = r.hall_number;
        add(std::to_string(r.number), r.hall_number);
      }
      add(r.short_hm, r.hall_number);
      if (std::string(r.choice) == "H") add("H" + std::string(r.short_hm + 1), r.hall_number);  // PDB's "H 3 2"
      add(r.hm, r.hall_number);
      if (crystal_system_of(r.number) == CrystalSystem::Monoclinic) {  // "P 1 21/a 1" -> "P21/a"
        std::string k;
        for (char c : std::string(r.hm) + " ") k += c;
        std::string compact;
        size_t pos = 0;
        while (pos < k.size()) {
          const size_t next = k.find(' ', pos);
          const std::string tok = k.substr(pos, next - pos);
          if (tok != "1") compact += tok;
          pos = next + 1;
        }
        add(compact, r.hall_number);
      }
    }
    // Symbols before ITA's fifth edition introduced the double glide plane "e" (still common
    // in CIFs and in gemmi's and the CCP4 tables).
    for (const auto& [old_symbol, number] : {std::pair{"Abm2", 39}, {"Aba2", 41}, {"Cmca", 64}, {"Cmma", 67}, {"Ccca", 68}})
      add(old_symbol, default_setting[number]);
    for (const auto& [key, hall_number] : by_symbol) {
      auto& v = by_lower[lowered(key)];
      if (std::find(v.begin(), v.end(), hall_number) == v.end()) v.push_back(hall_number);
    }
  }

  const SpaceGroup& get(int hall_number) {
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = groups.at(static_cast<size_t>(hall_number - 1));
    if (!slot) slot = std::make_unique<SpaceGroup>(&setting_table()[static_cast<size_t>(hall_number - 1)]);
    return *slot;
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

GroupOps::GroupOps(const std::vector<SymOp>& all_operations) : all_(all_operations) {
  std::map<Mat3i, SymOp> rep;
  for (const SymOp& op : all_) {
    if (op.rot == kIdentity) centrings_.push_back(op.tran);
    auto it = rep.find(op.rot);
    if (it == rep.end() || op.tran < it->second.tran) rep[op.rot] = op;
  }
  std::sort(centrings_.begin(), centrings_.end());
  if (!rep.count(kIdentity)) throw std::invalid_argument("operations lack the identity");
  coset_reps_.push_back(rep.at(kIdentity));
  for (const auto& [rot, op] : rep)
    if (rot != kIdentity) coset_reps_.push_back(op);
  for (const SymOp& op : coset_reps_) rotations_.push_back(op.rot);
  std::set<Mat3i> laue(rotations_.begin(), rotations_.end());
  for (const Mat3i& r : rotations_) laue.insert(negated(r));
  laue_rotations_.assign(laue.begin(), laue.end());
}

bool GroupOps::is_absent(const Vec3i& h) const {
  // Any operation is a centring times a coset representative, so it suffices to test
  // the centrings (which fix every h) and then the representatives with their own t.
  for (const Vec3i& c : centrings_)
    if (dot24(h, c) % kTransDen != 0) return true;
  for (const SymOp& op : coset_reps_)
    if (dot24(h, op.tran) % kTransDen != 0 && same(row_times(h, op.rot), h)) return true;
  return false;
}

int GroupOps::multiplicity(const Vec3i& h) const {
  Vec3i orbit[96];
  int n = 0;
  for (const Mat3i& r : laue_rotations_) {
    const Vec3i g = row_times(h, r);
    if (std::none_of(orbit, orbit + n, [&](const Vec3i& o) { return same(o, g); })) orbit[n++] = g;
  }
  return n;
}

Vec3i GroupOps::reduce_hkl(const Vec3i& h) const {
  Vec3i best = h;
  for (const Mat3i& r : laue_rotations_) best = std::max(best, row_times(h, r));
  return best;
}

bool GroupOps::is_canonical(const Vec3i& h) const {
  for (const Mat3i& r : laue_rotations_) {
    // lexicographic hR > h, written out: this sits in the innermost loop of reflection search
    const int g0 = h[0] * r[0][0] + h[1] * r[1][0] + h[2] * r[2][0];
    if (g0 != h[0]) {
      if (g0 > h[0]) return false;
      continue;
    }
    const int g1 = h[0] * r[0][1] + h[1] * r[1][1] + h[2] * r[2][1];
    if (g1 != h[1]) {
      if (g1 > h[1]) return false;
      continue;
    }
    if (h[0] * r[0][2] + h[1] * r[1][2] + h[2] * r[2][2] > h[2]) return false;
  }
  return true;
}

SpaceGroup::SpaceGroup(const SettingRow* row) : row_(row), ops_(operations_from_hall(row->hall)) {
  point_group_ = crystal_class(ops_.rotations());
  conditions_ = derive_conditions(ops_.all(), ops_.rotations());
}

LatticeSystem SpaceGroup::lattice_system() const {
  switch (crystal_system()) {
    case CrystalSystem::Triclinic: return LatticeSystem::Triclinic;
    case CrystalSystem::Monoclinic: return LatticeSystem::Monoclinic;
    case CrystalSystem::Orthorhombic: return LatticeSystem::Orthorhombic;
    case CrystalSystem::Tetragonal: return LatticeSystem::Tetragonal;
    case CrystalSystem::Trigonal: return row_->short_hm[0] == 'R' ? LatticeSystem::Rhombohedral : LatticeSystem::Hexagonal;
    case CrystalSystem::Hexagonal: return LatticeSystem::Hexagonal;
    case CrystalSystem::Cubic: return LatticeSystem::Cubic;
  }
  return LatticeSystem::Triclinic;
}

std::string SpaceGroup::laue_class() const {
  static const std::map<std::string, std::string> laue = {
      {"1", "-1"}, {"-1", "-1"}, {"2", "2/m"}, {"m", "2/m"}, {"2/m", "2/m"}, {"222", "mmm"}, {"mm2", "mmm"},
      {"mmm", "mmm"}, {"4", "4/m"}, {"-4", "4/m"}, {"4/m", "4/m"}, {"422", "4/mmm"}, {"4mm", "4/mmm"},
      {"-42m", "4/mmm"}, {"4/mmm", "4/mmm"}, {"3", "-3"}, {"-3", "-3"}, {"32", "-3m"}, {"3m", "-3m"},
      {"-3m", "-3m"}, {"6", "6/m"}, {"-6", "6/m"}, {"6/m", "6/m"}, {"622", "6/mmm"}, {"6mm", "6/mmm"},
      {"-6m2", "6/mmm"}, {"6/mmm", "6/mmm"}, {"23", "m-3"}, {"m-3", "m-3"}, {"432", "m-3m"},
      {"-43m", "m-3m"}, {"m-3m", "m-3m"}};
  return laue.at(point_group_);
}

bool SpaceGroup::is_centrosymmetric() const {
  const auto& r = ops_.rotations();
  return std::find(r.begin(), r.end(), negated(kIdentity)) != r.end();
}

bool SpaceGroup::is_standard() const { return registry().default_setting[number()] == hall_number(); }

const std::vector<std::string>& SpaceGroup::reflection_conditions() const { return conditions_; }

const SpaceGroup& SpaceGroup::from_hall_number(int hall_number) {
  if (hall_number < 1 || hall_number > static_cast<int>(setting_table().size()))
    throw std::invalid_argument("Hall number " + std::to_string(hall_number) + " is outside 1..530");
  return registry().get(hall_number);
}

const SpaceGroup& SpaceGroup::from_number(int number) {
  if (number < 1 || number > 230)
    throw std::invalid_argument("space-group number " + std::to_string(number) +
                                " is outside 1..230 (International Tables numbering)");
  return registry().get(registry().default_setting[number]);
}

const SpaceGroup& SpaceGroup::lookup(const std::string& symbol) {
  Registry& reg = registry();
  const std::string key = normalise_symbol(symbol);
  if (key.empty()) throw std::invalid_argument("empty space-group symbol");
  if (std::all_of(key.begin(), key.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
      key.size() <= 4)
    return from_number(std::stoi(key));
  if (auto it = reg.by_symbol.find(key); it != reg.by_symbol.end()) return reg.get(it->second);
  if (const size_t colon = key.rfind(':'); colon != std::string::npos && colon > 0) {  // "227:2", "Fd-3m:2", "R-3:R"
    const int number = lookup(key.substr(0, colon)).number();
    const std::string choice = key.substr(colon + 1);
    for (const SettingRow& r : setting_table())
      if (r.number == number && choice == r.choice) return reg.get(r.hall_number);
    std::string known;
    for (const SettingRow& r : setting_table())
      if (r.number == number) known += std::string(known.empty() ? "" : ", ") + (*r.choice ? r.choice : "(default)");
    throw std::invalid_argument("space group " + std::to_string(number) + " has no setting '" + choice +
                                "' (its settings: " + known + ")");
  }
  try {
    return from_hall(symbol);
  } catch (const std::invalid_argument&) {  // not a Hall symbol either: try case-insensitive H-M
  }
  if (auto it = reg.by_lower.find(lowered(key)); it != reg.by_lower.end() && it->second.size() == 1)
    return reg.get(it->second.front());
  throw std::invalid_argument("unknown space-group symbol '" + symbol +
                              "' (accepted: a number 1..230, a Hermann-Mauguin symbol such as 'P 21/c' or "
                              "'P 1 1 21/a', a Hall symbol such as '-P 2ybc', or 'number:setting' such as '227:2')");
}

const SpaceGroup& SpaceGroup::from_hall(const std::string& hall) {
  const std::vector<SymOp> ops = operations_from_hall(hall);
  // the listed spelling first: a few ITA settings share their operations (Ccce:1, :1ba-c)
  for (const SettingRow& r : setting_table())
    if (r.hall == collapse_spaces(hall)) return registry().get(r.hall_number);
  for (const SettingRow& r : setting_table()) {
    const SpaceGroup& g = registry().get(r.hall_number);
    if (g.operations() == ops) return g;
  }
  throw std::invalid_argument("Hall symbol '" + hall + "' generates a group in a setting that is not among the 530 ITA settings");
}

std::vector<const SpaceGroup*> SpaceGroup::settings(int number) {
  crystal_system_of(number);  // validates the range
  std::vector<const SpaceGroup*> out;
  for (const SettingRow& r : setting_table())
    if (r.number == number) out.push_back(&registry().get(r.hall_number));
  return out;
}

}  // namespace xrdfast
