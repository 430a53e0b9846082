#include "xrdfast/symop.hpp"

#include <algorithm>
#include <cctype>
#include <numeric>
#include <set>
#include <stdexcept>

namespace xrdfast {

Mat3i mat_mul(const Mat3i& a, const Mat3i& b) {
  Mat3i c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[i][j] += a[i][k] * b[k][j];
  return c;
}

Vec3i mat_vec(const Mat3i& a, const Vec3i& v) {
  Vec3i r{};
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k) r[i] += a[i][k] * v[k];
  return r;
}

int determinant(const Mat3i& a) {
  return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
         a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
         a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
}

int trace(const Mat3i& a) { return a[0][0] + a[1][1] + a[2][2]; }

Mat3i negated(const Mat3i& a) {
  Mat3i r = a;
  for (auto& row : r)
    for (int& x : row) x = -x;
  return r;
}

Mat3i inverse_unimodular(const Mat3i& a) {
  const int det = determinant(a);
  if (det != 1 && det != -1) throw std::invalid_argument("rotation matrix is not unimodular");
  Mat3i inv{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      // cofactor C_ji / det, with cyclic indices giving the sign for free
      const int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
      inv[i][j] = (a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0]) * det;
    }
  return inv;
}

Vec3i wrap_translation(Vec3i t) {
  for (int& x : t) x = ((x % kTransDen) + kTransDen) % kTransDen;
  return t;
}

SymOp SymOp::operator*(const SymOp& b) const {
  Vec3i t = mat_vec(rot, b.tran);
  for (int i = 0; i < 3; ++i) t[i] += tran[i];
  return SymOp{mat_mul(rot, b.rot), wrap_translation(t)};
}

SymOp SymOp::inverse() const {
  const Mat3i inv = inverse_unimodular(rot);
  Vec3i t = mat_vec(inv, tran);
  for (int& x : t) x = -x;
  return SymOp{inv, wrap_translation(t)};
}

std::string SymOp::triplet() const {
  static const char* kAxis = "xyz";
  std::string out;
  for (int i = 0; i < 3; ++i) {
    std::string term;
    for (int j = 0; j < 3; ++j) {
      const int c = rot[i][j];
      if (c == 0) continue;
      if (c < 0) term += '-';
      else if (!term.empty()) term += '+';
      if (c != 1 && c != -1) term += std::to_string(std::abs(c));
      term += kAxis[j];
    }
    if (tran[i] != 0) {
      const int g = std::gcd(tran[i], kTransDen);
      term += '+' + std::to_string(tran[i] / g) + '/' + std::to_string(kTransDen / g);
    }
    out += (i ? "," : "") + (term.empty() ? std::string("0") : term);
  }
  return out;
}

SymOp parse_triplet(const std::string& triplet) {
  SymOp op{Mat3i{}, Vec3i{0, 0, 0}};
  std::string s;
  for (char ch : triplet)
    if (!std::isspace(static_cast<unsigned char>(ch))) s += static_cast<char>(std::tolower(ch));
  int row = 0;
  size_t i = 0;
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("symmetry operation '" + triplet + "': " + why +
                                " (expected e.g. '-x,y+1/2,-z+1/2')");
  };
  while (i <= s.size()) {
    if (i == s.size() || s[i] == ',') {
      if (++row > 3) fail("more than three components");
      ++i;
      if (i > s.size()) break;
      continue;
    }
    int sign = 1;
    if (s[i] == '+' || s[i] == '-') sign = (s[i++] == '-') ? -1 : 1;
    if (i >= s.size()) fail("dangling sign");
    if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      int num = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) num = num * 10 + (s[i++] - '0');
      int den = 1;
      if (i < s.size() && s[i] == '/') {
        ++i;
        den = 0;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) den = den * 10 + (s[i++] - '0');
        if (den == 0) fail("zero or missing denominator");
      }
      if (i < s.size() && (s[i] == 'x' || s[i] == 'y' || s[i] == 'z')) {
        if (den != 1) fail("fractional rotation coefficient");
        op.rot[row][s[i++] - 'x'] += sign * num;
        continue;
      }
      if (kTransDen % den != 0 && (num * kTransDen) % den != 0) fail("translation not a multiple of 1/24");
      op.tran[row] += sign * num * kTransDen / den;
    } else if (s[i] == 'x' || s[i] == 'y' || s[i] == 'z') {
      op.rot[row][s[i++] - 'x'] += sign;
    } else {
      fail(std::string("unexpected character '") + s[i] + "'");
    }
  }
  if (row != 3) fail("expected three comma-separated components");
  const int det = determinant(op.rot);
  if (det != 1 && det != -1) fail("rotation part is not unimodular (det = " + std::to_string(det) + ")");
  op.tran = wrap_translation(op.tran);
  return op;
}

std::vector<SymOp> close_group(const std::vector<SymOp>& generators) {
  constexpr size_t kMaxOrder = 192;  // Fm-3m in its F cell: 48 x 4
  std::set<SymOp> seen{SymOp{}};
  std::vector<SymOp> ops{SymOp{}};
  for (const SymOp& g : generators)
    if (seen.insert(g).second) ops.push_back(g);
  for (size_t i = 0; i < ops.size(); ++i)
    for (size_t j = 0; j < ops.size(); ++j) {
      SymOp p = ops[i] * ops[j];
      if (seen.insert(p).second) {
        ops.push_back(p);
        if (ops.size() > kMaxOrder) throw std::invalid_argument("operations do not close to a crystallographic group");
      }
    }
  std::sort(ops.begin() + 1, ops.end());
  return ops;
}

}  // namespace xrdfast
