#include "xrdfast/subgroups.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

namespace xrdfast {
namespace {

// ---- Exact arithmetic ------------------------------------------------------------------
//
// A change of basis makes translations finer than 1/24 (a conventional cell holds up to
// four lattice points, and an origin shift solves equations such as 2s = t), so the search
// below uses exact fractions and integer matrices: no tolerance decides a space-group type.

struct Rational {
  long long num = 0, den = 1;
  Rational(long long n = 0, long long d = 1) : num(n), den(d) {
    if (den < 0) num = -num, den = -den;
    const long long g = std::gcd(num, den);  // gcd(0, d) = d, so zero becomes 0/1
    num /= g, den /= g;
  }
  Rational operator+(const Rational& o) const { return {num * o.den + o.num * den, den * o.den}; }
  Rational operator-(const Rational& o) const { return {num * o.den - o.num * den, den * o.den}; }
  Rational operator*(long long k) const { return {num * k, den}; }
  Rational operator/(long long k) const { return {num, den * k}; }
  bool is_integer() const { return den == 1; }
  Rational mod1() const { return {((num % den) + den) % den, den}; }
  double value() const { return static_cast<double>(num) / static_cast<double>(den); }
};

using Vec3l = std::array<long long, 3>;
using Mat3l = std::array<std::array<long long, 3>, 3>;
using Vec3q = std::array<Rational, 3>;

constexpr Mat3l kUnit = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};

Mat3l widen(const Mat3i& a) {
  Mat3l r{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r[i][j] = a[i][j];
  return r;
}

Mat3i narrow(const Mat3l& a) {
  Mat3i r{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r[i][j] = static_cast<int>(a[i][j]);
  return r;
}

Mat3l mul(const Mat3l& a, const Mat3l& b) {
  Mat3l c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[i][j] += a[i][k] * b[k][j];
  return c;
}

Vec3l mul(const Mat3l& a, const Vec3l& v) {
  Vec3l r{};
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k) r[i] += a[i][k] * v[k];
  return r;
}

Mat3l minus_unit(Mat3l a) {
  for (int i = 0; i < 3; ++i) --a[i][i];
  return a;
}

long long det(const Mat3l& a) {
  return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
         a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
}

// adj(A), so that A adj(A) = det(A) I and A^-1 = adj(A) / det(A).
Mat3l adjugate(const Mat3l& a) {
  Mat3l r{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      const int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
      r[i][j] = a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0];
    }
  return r;
}

// Exact quotient a / d, or false when some entry is not divisible.
bool divide_exact(Mat3l& a, long long d) {
  for (auto& row : a)
    for (long long& x : row) {
      if (x % d != 0) return false;
      x /= d;
    }
  return true;
}

Mat3l from_columns(const Vec3l& a, const Vec3l& b, const Vec3l& c) {
  return {{{a[0], b[0], c[0]}, {a[1], b[1], c[1]}, {a[2], b[2], c[2]}}};
}

Vec3l cross(const Vec3l& a, const Vec3l& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}

Vec3l scaled(const Vec3l& v, long long k) { return {v[0] * k, v[1] * k, v[2] * k}; }

Vec3l plus(const Vec3l& a, const Vec3l& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }

// The shortest integer vector along v, first nonzero component positive.
Vec3l primitive_direction(Vec3l v) {
  const long long g = std::gcd(std::gcd(std::llabs(v[0]), std::llabs(v[1])), std::llabs(v[2]));
  for (long long& x : v) x /= g;
  const long long first = v[0] ? v[0] : v[1] ? v[1] : v[2];
  return first < 0 ? scaled(v, -1) : v;
}

// ---- Integer row reduction ---------------------------------------------------------------
//
// One routine serves two purposes: a basis of the lattice spanned by integer vectors, and
// the origin shift s solving A s = b modulo integers. Only unimodular row operations are
// used, so the solutions modulo Z^m are unchanged (a Hermite-like echelon form).

struct Row {
  Vec3l a;
  Rational rhs;  // kept modulo 1
};

// Brings rows into echelon form; returns the pivot column of each of the leading rows.
std::vector<int> echelon(std::vector<Row>& rows) {
  std::vector<int> pivots;
  size_t top = 0;
  for (int col = 0; col < 3 && top < rows.size(); ++col) {
    while (true) {
      size_t best = rows.size();  // the row with the smallest nonzero entry in this column
      for (size_t r = top; r < rows.size(); ++r)
        if (rows[r].a[col] != 0 && (best == rows.size() || std::llabs(rows[r].a[col]) < std::llabs(rows[best].a[col])))
          best = r;
      if (best == rows.size()) break;
      std::swap(rows[top], rows[best]);
      bool cleared = true;
      for (size_t r = top + 1; r < rows.size(); ++r) {
        const long long q = rows[r].a[col] / rows[top].a[col];
        for (int k = 0; k < 3; ++k) rows[r].a[k] -= q * rows[top].a[k];
        rows[r].rhs = (rows[r].rhs - rows[top].rhs * q).mod1();
        cleared = cleared && rows[r].a[col] == 0;
      }
      if (cleared) {
        pivots.push_back(col);
        ++top;
        break;
      }
    }
  }
  return pivots;
}

// A basis (as rows) of the lattice generated by `vectors`.
std::vector<Vec3l> lattice_basis(const std::vector<Vec3l>& vectors) {
  std::vector<Row> rows;
  for (const Vec3l& v : vectors) rows.push_back({v, 0});
  const size_t rank = echelon(rows).size();
  std::vector<Vec3l> basis;
  for (size_t i = 0; i < rank; ++i) basis.push_back(rows[i].a);
  return basis;
}

// Some s with A s = b (mod 1) for every row, or false when the congruences are inconsistent.
bool solve_mod1(std::vector<Row> rows, Vec3q& s) {
  const std::vector<int> pivots = echelon(rows);
  for (size_t r = pivots.size(); r < rows.size(); ++r)
    if (rows[r].rhs.num != 0) return false;
  s = {Rational(0), Rational(0), Rational(0)};  // free coordinates (polar directions) stay 0
  for (size_t r = pivots.size(); r-- > 0;) {
    const int p = pivots[r];
    Rational x = rows[r].rhs;
    for (int k = p + 1; k < 3; ++k) x = x - s[k] * rows[r].a[k];
    s[p] = (x / rows[r].a[p]).mod1();
  }
  return true;
}

// ---- Lattices with centring ------------------------------------------------------------

// Columns: a primitive basis (right-handed, in units of 1/24) of Z^3 + centring translations.
Mat3l primitive_basis24(const std::vector<Vec3i>& centrings) {
  std::vector<Vec3l> gens = {{kTransDen, 0, 0}, {0, kTransDen, 0}, {0, 0, kTransDen}};
  for (const Vec3i& c : centrings) gens.push_back({c[0], c[1], c[2]});
  const std::vector<Vec3l> b = lattice_basis(gens);
  Mat3l m = from_columns(b[0], b[1], b[2]);
  if (det(m) < 0)
    for (auto& row : m) row[0] = -row[0];
  return m;
}

// Q = B^-1, integer because Z^3 lies in the centred lattice: fractional coordinates in the
// setting map to coordinates on a primitive basis, where the lattice is simply Z^3.
Mat3l to_primitive(const std::vector<Vec3i>& centrings) {
  const Mat3l b24 = primitive_basis24(centrings);
  Mat3l q = adjugate(b24);
  for (auto& row : q)
    for (long long& x : row) x *= kTransDen;
  if (!divide_exact(q, det(b24))) throw std::logic_error("centred lattice does not contain Z^3");
  return q;
}

// ---- The 530 settings, indexed by rotation set and centring ----------------------------

struct Setting {
  const SpaceGroup* group;
  Mat3l to_primitive;
  std::map<Mat3i, Vec3i> translation;  // coset representative of each rotation, 1/24
};

using SettingKey = std::pair<std::vector<Mat3i>, std::vector<Vec3i>>;  // sorted rotations, centrings

const std::map<SettingKey, std::vector<Setting>>& settings_index() {
  static const std::map<SettingKey, std::vector<Setting>> index = [] {
    std::map<SettingKey, std::vector<Setting>> out;
    for (const SettingRow& row : setting_table()) {
      const SpaceGroup& g = SpaceGroup::from_hall_number(row.hall_number);
      Setting s{&g, to_primitive(g.centring_translations()), {}};
      for (const SymOp& op : g.symmetry_operations()) s.translation[op.rot] = op.tran;
      std::vector<Mat3i> rotations = g.rotations();
      std::sort(rotations.begin(), rotations.end());
      out[{rotations, g.centring_translations()}].push_back(s);  // table order: standard first
    }
    return out;
  }();
  return index;
}

// ---- A space group on its primitive lattice ----------------------------------------------

// A space group split into coset representatives and centring translations.
struct Cosets {
  std::vector<SymOp> reps;       // one per point-group rotation
  std::vector<Vec3i> centrings;  // sorted, zero first
};

Cosets decompose(const std::vector<SymOp>& group) {
  Cosets c;
  std::map<Mat3i, SymOp> rep;
  for (const SymOp& op : group) {
    if (op.rot == kIdentity) c.centrings.push_back(op.tran);
    rep.emplace(op.rot, op);
  }
  std::sort(c.centrings.begin(), c.centrings.end());
  for (const auto& [rot, op] : rep) c.reps.push_back(op);
  return c;
}

// Order of a rotation from the trace of its proper part (det R * R), as in
// Grosse-Kunstleve, Acta Cryst. A55, 383 (1999).
int rotation_order(const Mat3l& proper) {
  switch (proper[0][0] + proper[1][1] + proper[2][2]) {
    case 3: return 1;
    case 2: return 6;
    case 1: return 4;
    case 0: return 3;
    default: return 2;
  }
}

struct Axis {
  Vec3l direction;  // shortest lattice vector along the axis
  Mat3l rotation;   // a proper rotation about it of the axis' order
};

struct Match {
  const Setting* setting;
  Mat3l cell;      // conventional basis, columns in primitive coordinates
  Vec3q shift;     // origin shift in the setting's coordinates
  bool zero_shift;
};

class Identifier {
 public:
  explicit Identifier(const Cosets& g) {
    const size_t n = g.reps.size();
    if (n > 48) throw std::invalid_argument("the operations have " + std::to_string(n) +
                                            " distinct rotations; a crystallographic point group has at most 48");
    // Primitive coordinates: rotations R_p = B^-1 R B, translations t_p = B^-1 t.
    basis24_ = primitive_basis24(g.centrings);
    Mat3l adj = adjugate(basis24_);
    const long long d = det(basis24_);
    Mat3l b_inv = adj;
    for (auto& row : b_inv)
      for (long long& x : row) x *= kTransDen;
    if (!divide_exact(b_inv, d)) throw std::logic_error("centred lattice does not contain Z^3");
    input_cell_ = b_inv;
    centrings_ = g.centrings.size();
    for (const SymOp& op : g.reps) {
      Mat3l r = mul(mul(adj, widen(op.rot)), basis24_);
      if (!divide_exact(r, d)) throw std::invalid_argument("a rotation does not map the centred lattice onto itself");
      rotations_.push_back(r);
      translations24_.push_back(mul(b_inv, Vec3l{op.tran[0], op.tran[1], op.tran[2]}));
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) metric_[i][j] += r[0][i] * r[0][j] + r[1][i] * r[1][j] + r[2][i] * r[2][j];
    }
    choose_generators();
  }

  Identification run() const {
    // The input basis itself first: a table setting is returned as itself.
    std::vector<Match> own = matches(input_cell_);
    for (const Match& m : own)
      if (m.zero_shift) return result(m);
    if (!own.empty()) return result(own.front());
    // Otherwise the conventional cells built from the symmetry axes, preferring a match
    // onto the standard setting of the type.
    std::vector<Match> found;
    for (const Mat3l& cell : conventional_cells())
      for (const Match& m : matches(cell)) {
        if (m.setting->group->is_standard()) return result(m);
        found.push_back(m);
      }
    if (found.empty())
      throw std::invalid_argument("the operations form a group (point group of order " +
                                  std::to_string(rotations_.size()) + ", " + std::to_string(centrings_) +
                                  " lattice points per cell) that matches none of the 530 space-group settings");
    return result(found.front());
  }

 private:
  // A generating set of the point group: if the coset representative of every generator
  // lands in the target setting, so does the whole group.
  void choose_generators() {
    std::set<Mat3l> generated = {kUnit};
    for (size_t k = 0; k < rotations_.size(); ++k) {
      if (generated.count(rotations_[k])) continue;
      generators_.push_back(k);
      std::vector<Mat3l> queue(generated.begin(), generated.end());
      for (size_t i = 0; i < queue.size(); ++i)
        for (size_t g : generators_) {
          const Mat3l p = mul(queue[i], rotations_[g]);
          if (generated.insert(p).second) queue.push_back(p);
        }
    }
  }

  long long form(const Vec3l& x, const Vec3l& y) const {
    long long s = 0;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) s += x[i] * metric_[i][j] * y[j];
    return s;
  }

  // Distinct rotation axes of the given order, each with the shortest lattice vector along it.
  std::vector<Axis> axes(int order) const {
    std::vector<Axis> out;
    for (const Mat3l& r : rotations_) {
      Mat3l proper = r;
      if (det(r) < 0)
        for (auto& row : proper)
          for (long long& x : row) x = -x;
      if (rotation_order(proper) != order) continue;
      const Mat3l k = minus_unit(proper);  // rank 2: the axis is the cross product of two rows
      Vec3l dir{0, 0, 0};
      for (int i = 0; i < 3 && dir == Vec3l{0, 0, 0}; ++i)
        for (int j = i + 1; j < 3 && dir == Vec3l{0, 0, 0}; ++j) dir = cross(k[i], k[j]);
      dir = primitive_direction(dir);
      if (std::none_of(out.begin(), out.end(), [&](const Axis& a) { return a.direction == dir; }))
        out.push_back({dir, proper});
    }
    return out;
  }

  // Reduced basis (Lagrange-Gauss, with the invariant metric) of the lattice plane
  // perpendicular to an n-fold axis: the kernel of sum_k R^k.
  std::pair<Vec3l, Vec3l> reduced_plane(const Axis& axis, int order) const {
    Mat3l sum = kUnit, power = kUnit;
    for (int k = 1; k < order; ++k) {
      power = mul(power, axis.rotation);
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) sum[i][j] += power[i][j];
    }
    Vec3l normal = sum[0] != Vec3l{0, 0, 0} ? sum[0] : sum[1] != Vec3l{0, 0, 0} ? sum[1] : sum[2];
    normal = primitive_direction(normal);
    // For primitive w, the vectors e_i x w generate the whole lattice plane w.v = 0.
    const std::vector<Vec3l> plane = lattice_basis({cross({1, 0, 0}, normal), cross({0, 1, 0}, normal),
                                                    cross({0, 0, 1}, normal)});
    Vec3l u = plane.at(0), w = plane.at(1);
    while (true) {
      if (form(w, w) < form(u, u)) std::swap(u, w);
      const long long uu = form(u, u), uw = form(u, w);
      const long long num = 2 * uw + uu, den = 2 * uu;  // mu = round(uw / uu)
      const long long mu = num >= 0 ? num / den : -((-num + den - 1) / den);
      if (mu == 0) break;
      w = plus(w, scaled(u, -mu));
    }
    return {u, w};
  }

  // Candidate conventional cells (columns in primitive coordinates), by crystal family,
  // with the axes of ITA Vol. A (2016) Table 2.1.1.1 found from the rotation axes, as in
  // the change-of-basis search of Grosse-Kunstleve (1999). Several sign and ordering
  // choices are returned; matches() decides which of them reach a tabulated setting.
  std::vector<Mat3l> conventional_cells() const {
    std::vector<Mat3l> cells;
    auto add = [&](const Vec3l& a, const Vec3l& b, const Vec3l& c) {
      const Mat3l m = from_columns(a, b, c);
      if (det(m) > 0) cells.push_back(m);
    };
    auto signed_permutations = [&](const std::vector<Axis>& ax) {
      int p[3] = {0, 1, 2};
      do
        for (int signs = 0; signs < 8; ++signs)
          add(scaled(ax[p[0]].direction, signs & 1 ? -1 : 1), scaled(ax[p[1]].direction, signs & 2 ? -1 : 1),
              scaled(ax[p[2]].direction, signs & 4 ? -1 : 1));
      while (std::next_permutation(p, p + 3));
    };
    const std::vector<Axis> threes = axes(3), fours = axes(4), twos = axes(2);
    if (threes.size() == 4) {
      // Cubic: a, b, c along the three 4-fold axes, or the three 2-fold axes in 23 and m-3.
      signed_permutations(fours.size() == 3 ? fours : twos);
    } else if (threes.size() == 1 || fours.size() == 1) {
      // Trigonal, hexagonal (c along the 3-fold, b = 3+ a) and tetragonal (c along the
      // 4-fold, b = 4+ a); a is a shortest lattice vector perpendicular to c. For
      // rhombohedral lattices -a and a give the reverse and obverse centrings; both are tried.
      const int order = threes.size() == 1 ? 3 : 4;
      const Axis& axis = order == 3 ? threes[0] : fours[0];
      const Vec3l u = reduced_plane(axis, order).first;
      Mat3l inverse = kUnit;
      for (int k = 1; k < order; ++k) inverse = mul(inverse, axis.rotation);
      Vec3l a = u;
      for (int k = 0; k < order; ++k, a = mul(axis.rotation, a))
        for (int sa : {1, -1})
          for (int sc : {1, -1}) {
            const Vec3l aa = scaled(a, sa), c = scaled(axis.direction, sc);
            add(aa, mul(axis.rotation, aa), c);
            add(aa, mul(inverse, aa), c);
          }
    } else if (twos.size() == 3) {
      signed_permutations(twos);  // orthorhombic: along the three 2-fold axes
    } else if (twos.size() == 1) {
      // Monoclinic: b along the 2-fold axis (or normal to the mirror), a and c a basis of
      // the lattice plane perpendicular to it; every cell choice and centring is tried.
      const auto [u, w] = reduced_plane(twos[0], 2);
      const Vec3l b = twos[0].direction;
      const long long volume = std::llabs(det(from_columns(u, b, w)));
      const std::vector<Vec3l> in_plane = {u, w, plus(u, w), plus(u, scaled(w, -1))};
      for (const Vec3l& a : in_plane)
        for (const Vec3l& c : in_plane)
          for (int sa : {1, -1})
            for (int sc : {1, -1})
              for (int sb : {1, -1}) {
                const Mat3l m = from_columns(scaled(a, sa), scaled(b, sb), scaled(c, sc));
                if (det(m) == volume) cells.push_back(m);
              }
    } else {
      cells.push_back(kUnit);  // triclinic: any primitive cell
    }
    return cells;
  }

  // All settings that the group becomes in the cell `m` after some origin shift.
  std::vector<Match> matches(const Mat3l& m) const {
    std::vector<Match> out;
    const long long d = det(m);
    if (d <= 0 || d > 4) return out;  // conventional cells hold at most 4 lattice points (F)
    const Mat3l adj = adjugate(m);
    std::vector<Mat3i> rotations;
    for (const Mat3l& r : rotations_) {
      Mat3l rc = mul(mul(adj, r), m);
      if (!divide_exact(rc, d)) return out;
      rotations.push_back(narrow(rc));
    }
    // Centring translations: the lattice points Z^3 (primitive coordinates) in the new cell,
    // generated by the columns of m^-1 = adj / d modulo 1.
    std::set<Vec3i> centrings = {{0, 0, 0}};
    for (int j = 0; j < 3; ++j) {
      const Vec3i step = wrap_translation({static_cast<int>(adj[0][j] * kTransDen / d),
                                           static_cast<int>(adj[1][j] * kTransDen / d),
                                           static_cast<int>(adj[2][j] * kTransDen / d)});
      for (bool grew = true; grew;) {
        grew = false;
        for (const Vec3i& c : std::vector<Vec3i>(centrings.begin(), centrings.end()))
          grew |= centrings.insert(wrap_translation({c[0] + step[0], c[1] + step[1], c[2] + step[2]})).second;
      }
    }
    std::vector<Mat3i> key_rotations = rotations;
    std::sort(key_rotations.begin(), key_rotations.end());
    const auto& index = settings_index();
    const auto it = index.find({key_rotations, std::vector<Vec3i>(centrings.begin(), centrings.end())});
    if (it == index.end()) return out;
    std::vector<Vec3q> translations;  // t_c = m^-1 t_p
    for (const Vec3l& t : translations24_) {
      const Vec3l n = mul(adj, t);
      translations.push_back({Rational(n[0], kTransDen * d), Rational(n[1], kTransDen * d), Rational(n[2], kTransDen * d)});
    }
    for (const Setting& s : it->second) {
      Match match{&s, m, {}, false};
      if (shifted_onto(s, rotations, translations, {0, 0, 0})) {
        match.zero_shift = true;
      } else if (!solve_shift(s, rotations, translations, match.shift) ||
                 !shifted_onto(s, rotations, translations, match.shift)) {
        continue;
      }
      out.push_back(match);
    }
    return out;
  }

  // Does {R | t + (R - I) s} coincide with the setting's coset representative modulo its
  // lattice (Z^3 plus centrings) for every rotation?
  static bool shifted_onto(const Setting& s, const std::vector<Mat3i>& rotations, const std::vector<Vec3q>& translations,
                           const Vec3q& shift) {
    for (size_t k = 0; k < rotations.size(); ++k) {
      const Vec3q diff = offset(s, rotations[k], translations[k], shift);
      const Mat3l& q = s.to_primitive;
      for (int i = 0; i < 3; ++i)
        if (!(diff[0] * q[i][0] + diff[1] * q[i][1] + diff[2] * q[i][2]).is_integer()) return false;
    }
    return true;
  }

  // t + (R - I) s - t_setting(R)
  static Vec3q offset(const Setting& s, const Mat3i& r, const Vec3q& t, const Vec3q& shift) {
    const Vec3i& target = s.translation.at(r);
    Vec3q out;
    for (int i = 0; i < 3; ++i) {
      Rational x = t[i] - Rational(target[i], kTransDen) - shift[i];
      for (int j = 0; j < 3; ++j) x = x + shift[j] * r[i][j];
      out[i] = x;
    }
    return out;
  }

  // Origin shift s with (R - I) s = t_setting(R) - t(R) modulo the setting's lattice, for
  // the generators; in primitive coordinates (rows multiplied by Q) the lattice is Z^3.
  bool solve_shift(const Setting& s, const std::vector<Mat3i>& rotations, const std::vector<Vec3q>& translations,
                   Vec3q& shift) const {
    const Mat3l& q = s.to_primitive;
    std::vector<Row> rows;
    for (size_t k : generators_) {
      const Mat3l a = mul(q, minus_unit(widen(rotations[k])));
      const Vec3q b = offset(s, rotations[k], translations[k], {0, 0, 0});  // t - t_setting
      for (int i = 0; i < 3; ++i) {
        const Rational rhs = Rational(0) - (b[0] * q[i][0] + b[1] * q[i][1] + b[2] * q[i][2]);
        rows.push_back({a[i], rhs.mod1()});
      }
    }
    return solve_mod1(rows, shift);
  }

  Identification result(const Match& m) const {
    Identification id;
    id.number = m.setting->group->number();
    id.hall_number = m.setting->group->hall_number();
    const Mat3l p24 = mul(basis24_, m.cell);  // P = B M, B in units of 1/24
    for (int i = 0; i < 3; ++i) {
      Rational origin(0);
      for (int j = 0; j < 3; ++j) {
        id.basis[i][j] = static_cast<double>(p24[i][j]) / kTransDen;
        origin = origin + m.shift[j] * p24[i][j];
      }
      id.origin_shift[i] = (origin / kTransDen).value();
    }
    return id;
  }

  Mat3l basis24_{};                   // primitive basis, columns in input coordinates x 24
  Mat3l input_cell_{};                // the input basis in primitive coordinates (B^-1)
  std::vector<Mat3l> rotations_;      // point group in primitive coordinates
  std::vector<Vec3l> translations24_; // coset translations in primitive coordinates, 1/24
  std::vector<size_t> generators_;
  size_t centrings_ = 1;
  Mat3l metric_{};                    // G = sum R^T R, invariant under the point group
};

Identification identify(const Cosets& g) { return Identifier(g).run(); }

// ---- Subgroups of a point group ----------------------------------------------------------
//
// The point group has at most 48 elements, so a subgroup is a 64-bit mask over the
// coset representatives and closure runs on the multiplication table.

using Mask = std::uint64_t;

struct PointGroupTable {
  size_t order = 0;
  std::vector<std::vector<int>> product;  // product[i][j] = index of R_i R_j
  std::vector<int> inverse;

  explicit PointGroupTable(const std::vector<SymOp>& reps) : order(reps.size()) {
    std::map<Mat3i, int> index;
    for (size_t i = 0; i < order; ++i) index[reps[i].rot] = static_cast<int>(i);
    product.assign(order, std::vector<int>(order));
    inverse.assign(order, 0);
    for (size_t i = 0; i < order; ++i)
      for (size_t j = 0; j < order; ++j) {
        product[i][j] = index.at(mat_mul(reps[i].rot, reps[j].rot));
        if (reps[product[i][j]].rot == kIdentity) inverse[i] = static_cast<int>(j);
      }
  }

  Mask closure(Mask gens) const {
    std::vector<int> elements;
    for (size_t i = 0; i < order; ++i)
      if (gens >> i & 1) elements.push_back(static_cast<int>(i));
    Mask seen = gens;
    for (size_t k = 0; k < elements.size(); ++k)
      for (size_t g = 0; g < order; ++g)
        if (gens >> g & 1) {
          const int p = product[elements[k]][g];
          if (!(seen >> p & 1)) seen |= Mask{1} << p, elements.push_back(p);
        }
    return seen;
  }

  Mask conjugate(Mask h, int g) const {
    Mask out = 0;
    for (size_t i = 0; i < order; ++i)
      if (h >> i & 1) out |= Mask{1} << product[product[g][i]][inverse[g]];
    return out;
  }

  // Every subgroup, built up from the cyclic ones by adjoining one element at a time.
  std::vector<Mask> subgroups() const {
    std::vector<Mask> all;
    std::set<Mask> seen;
    for (size_t i = 0; i < order; ++i) {
      const Mask c = closure(Mask{1} << i);
      if (seen.insert(c).second) all.push_back(c);
    }
    for (size_t k = 0; k < all.size(); ++k)
      for (size_t i = 0; i < order; ++i)
        if (!(all[k] >> i & 1)) {
          const Mask joined = closure(all[k] | Mask{1} << i);
          if (seen.insert(joined).second) all.push_back(joined);
        }
    return all;
  }
};

int popcount(Mask m) {
  int n = 0;
  for (; m; m &= m - 1) ++n;
  return n;
}

}  // namespace

Identification identify_space_group(const std::vector<SymOp>& ops) { return identify(decompose(close_group(ops))); }

std::vector<TSubgroup> maximal_t_subgroups(const SpaceGroup& g) {
  const std::vector<SymOp>& reps = g.symmetry_operations();
  const PointGroupTable table(reps);
  const Mask whole = (Mask{1} << table.order) - 1;
  std::vector<Mask> proper;
  for (Mask h : table.subgroups())
    if (h != whole) proper.push_back(h);
  std::vector<Mask> maximal;
  for (Mask h : proper)
    if (std::none_of(proper.begin(), proper.end(), [&](Mask k) { return k != h && (k & h) == h; }))
      maximal.push_back(h);

  std::vector<TSubgroup> out;
  std::set<Mask> done;
  for (Mask h : maximal) {
    if (done.count(h)) continue;
    std::set<Mask> cls;
    for (size_t x = 0; x < table.order; ++x) cls.insert(table.conjugate(h, static_cast<int>(x)));
    done.insert(cls.begin(), cls.end());

    // A t-subgroup keeps every translation: the representatives of the kept rotations,
    // each with all centring translations.
    Cosets sub;
    sub.centrings = g.centring_translations();
    for (size_t i = 0; i < table.order; ++i)
      if (h >> i & 1) sub.reps.push_back(reps[i]);
    TSubgroup t;
    const Identification id = identify(sub);
    t.number = id.number;
    t.hall_number = id.hall_number;
    t.index = static_cast<int>(table.order) / popcount(h);
    t.conjugates = static_cast<int>(cls.size());
    for (const SymOp& r : sub.reps)
      for (const Vec3i& c : sub.centrings)
        t.operations.push_back(SymOp{kIdentity, c} * r);
    std::sort(t.operations.begin(), t.operations.end());
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const TSubgroup& a, const TSubgroup& b) {
    return std::tie(a.index, a.number, a.hall_number) < std::tie(b.index, b.number, b.hall_number);
  });
  return out;
}

}  // namespace xrdfast
