#include "xrdfast/wyckoff.hpp"

#include <cctype>
#include <cmath>
#include <stdexcept>

namespace xrdfast {

namespace {

struct WyckoffRow {
  int number;
  char letter;
  int multiplicity;
  const char* site_symmetry;
  const char* coordinates;
};

// Affine map of a representative triplet: "x,2x,1/4", "-y+1/4", "1/8,y,-y+1/4". Unlike
// parse_triplet (symop.hpp) the linear part may be singular: that is what a special position is.
void parse_representative(const std::string& text, Mat3i& mat, Vec3i& shift) {
  mat = Mat3i{};
  shift = {0, 0, 0};
  auto fail = [&](const std::string& why) {
    throw std::logic_error("Wyckoff table: representative '" + text + "': " + why);
  };
  int row = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ',') {
      if (++row > 2) fail("more than three components");
      ++i;
      continue;
    }
    int sign = 1;
    if (text[i] == '+' || text[i] == '-') sign = text[i++] == '-' ? -1 : 1;
    int num = 1, den = 1;
    bool has_num = false;
    if (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      num = 0;
      has_num = true;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) num = num * 10 + (text[i++] - '0');
      if (i < text.size() && text[i] == '/') {
        ++i;
        den = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) den = den * 10 + (text[i++] - '0');
        if (den == 0 || kTransDen % den != 0) fail("denominator not dividing 24");
      }
    }
    if (i < text.size() && text[i] >= 'x' && text[i] <= 'z') {
      if (den != 1) fail("fractional coefficient");
      mat[row][text[i++] - 'x'] += sign * num;
    } else if (has_num) {
      shift[row] += sign * num * (kTransDen / den);
    } else {
      fail("unexpected character");
    }
  }
  if (row != 2) fail("expected three components");
  shift = wrap_translation(shift);
}

int rank(const Mat3i& m) {
  Eigen::Matrix3d a;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) a(i, j) = m[i][j];
  return static_cast<int>(Eigen::FullPivLU<Eigen::Matrix3d>(a).rank());
}

Eigen::Vector3d apply_wrapped(const SymOp& op, const Eigen::Vector3d& x) {
  Eigen::Vector3d y;
  for (int i = 0; i < 3; ++i) {
    y[i] = op.rot[i][0] * x[0] + op.rot[i][1] * x[1] + op.rot[i][2] * x[2] + double(op.tran[i]) / kTransDen;
    y[i] -= std::floor(y[i]);
    if (y[i] >= 1) y[i] = 0;  // -1e-17 - floor(-1e-17) rounds to 1
  }
  return y;
}

// Same point modulo lattice translations (fractional tolerance; the orbit is exact arithmetic
// on exact operations, so only rounding noise separates equal images).
bool same_point(const Eigen::Vector3d& a, const Eigen::Vector3d& b) {
  constexpr double kTol = 1e-6;
  for (int i = 0; i < 3; ++i) {
    const double d = a[i] - b[i];
    if (std::fabs(d - std::round(d)) > kTol) return false;
  }
  return true;
}

std::vector<std::vector<WyckoffPosition>> build_table() {
  static const WyckoffRow rows[] = {
#include "wyckoff_table.inc"
  };
  std::vector<std::vector<WyckoffPosition>> table(231);
  for (const WyckoffRow& r : rows) {
    WyckoffPosition p{r.letter, r.multiplicity, r.site_symmetry, r.coordinates, {}, {}, 0};
    parse_representative(p.coordinates, p.free_to_coord, p.shift);
    p.n_free = rank(p.free_to_coord);
    table[r.number].push_back(std::move(p));
  }
  return table;
}

const std::vector<std::vector<WyckoffPosition>>& table() {
  static const std::vector<std::vector<WyckoffPosition>> t = build_table();
  return t;
}

// A parameter point off every special value of every position (irrational-looking, fixed).
const Eigen::Vector3d kGenericParams(0.1234567, 0.3456789, 0.7123456);

std::vector<std::vector<std::vector<int>>> build_cosets() {
  std::vector<std::vector<std::vector<int>>> cosets(231);
  for (int n = 1; n <= 230; ++n) {
    const auto& ops = SpaceGroup::from_number(n).operations();
    for (const WyckoffPosition& p : table()[n]) {
      const Eigen::Vector3d x = p.point(kGenericParams);
      std::vector<Eigen::Vector3d> images;
      std::vector<int> reps;
      for (size_t k = 0; k < ops.size(); ++k) {
        const Eigen::Vector3d y = apply_wrapped(ops[k], x);
        bool seen = false;
        for (const Eigen::Vector3d& z : images) seen = seen || same_point(y, z);
        if (!seen) {
          images.push_back(y);
          reps.push_back(static_cast<int>(k));
        }
      }
      if (static_cast<int>(reps.size()) != p.multiplicity)
        throw std::logic_error("Wyckoff table: type " + std::to_string(n) + " position " + p.letter + " (" +
                               p.coordinates + ") has an orbit of " + std::to_string(reps.size()) + " points, not " +
                               std::to_string(p.multiplicity));
      cosets[n].push_back(std::move(reps));
    }
  }
  return cosets;
}

void check_number(int number) {
  if (number < 1 || number > 230)
    throw std::invalid_argument("space-group number " + std::to_string(number) + " is outside 1..230");
}

}  // namespace

Eigen::Vector3d WyckoffPosition::point(const Eigen::Vector3d& free_params) const {
  Eigen::Vector3d x;
  for (int i = 0; i < 3; ++i)
    x[i] = free_to_coord[i][0] * free_params[0] + free_to_coord[i][1] * free_params[1] +
           free_to_coord[i][2] * free_params[2] + double(shift[i]) / kTransDen;
  return x;
}

const std::vector<WyckoffPosition>& wyckoff_positions(int number) {
  check_number(number);
  return table()[number];
}

const WyckoffPosition& wyckoff_position(int number, char letter) {
  for (const WyckoffPosition& p : wyckoff_positions(number))
    if (p.letter == letter) return p;
  throw std::invalid_argument("space group " + std::to_string(number) + " has no Wyckoff position '" +
                              std::string(1, letter) + "'");
}

const std::vector<int>& wyckoff_coset_operations(const SpaceGroup& group, const WyckoffPosition& position) {
  static const std::vector<std::vector<std::vector<int>>> cosets = build_cosets();
  const auto& positions = wyckoff_positions(group.number());
  if (!group.is_standard() || &position < positions.data() || &position >= positions.data() + positions.size())
    throw std::invalid_argument(std::string("Wyckoff position ") + position.letter + " (" + position.coordinates +
                                ") is not one of the default setting of space group " + group.hm() + " (" +
                                std::to_string(group.number()) + ")");
  return cosets[group.number()][static_cast<size_t>(&position - positions.data())];
}

std::vector<Eigen::Vector3d> wyckoff_orbit(const SpaceGroup& group, const WyckoffPosition& position,
                                           const Eigen::Vector3d& free_params) {
  wyckoff_coset_operations(group, position);  // checks that the position belongs to the group
  const Eigen::Vector3d x = position.point(free_params);
  std::vector<Eigen::Vector3d> orbit;
  for (const SymOp& op : group.operations()) {
    const Eigen::Vector3d y = apply_wrapped(op, x);
    bool seen = false;
    for (const Eigen::Vector3d& z : orbit) seen = seen || same_point(y, z);
    if (!seen) orbit.push_back(y);
  }
  return orbit;
}

}  // namespace xrdfast
