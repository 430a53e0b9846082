#include "xrdfast/hall.hpp"

#include <cctype>
#include <charconv>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace xrdfast {
namespace {

constexpr int T = kTransDen;

// Rotation matrices by axis and order, Hall (1981) Table 3 / ITB Table 1.4.2.4.
Mat3i rotation_matrix(char axis, int order, char principal) {
  auto m = [](std::initializer_list<int> v) {
    Mat3i r{};
    auto it = v.begin();
    for (auto& row : r)
      for (int& x : row) x = *it++;
    return r;
  };
  if (order == 1) return kIdentity;
  if (axis == 'x') switch (order) {
      case 2: return m({1, 0, 0, 0, -1, 0, 0, 0, -1});
      case 3: return m({1, 0, 0, 0, 0, -1, 0, 1, -1});
      case 4: return m({1, 0, 0, 0, 0, -1, 0, 1, 0});
      case 6: return m({1, 0, 0, 0, 1, -1, 0, 1, 0});
    }
  if (axis == 'y') switch (order) {
      case 2: return m({-1, 0, 0, 0, 1, 0, 0, 0, -1});
      case 3: return m({-1, 0, 1, 0, 1, 0, -1, 0, 0});
      case 4: return m({0, 0, 1, 0, 1, 0, -1, 0, 0});
      case 6: return m({0, 0, 1, 0, 1, 0, -1, 0, 1});
    }
  if (axis == 'z') switch (order) {
      case 2: return m({-1, 0, 0, 0, -1, 0, 0, 0, 1});
      case 3: return m({0, -1, 0, 1, -1, 0, 0, 0, 1});
      case 4: return m({0, -1, 0, 1, 0, 0, 0, 0, 1});
      case 6: return m({1, -1, 0, 1, 0, 0, 0, 0, 1});
    }
  if (axis == '*' && order == 3) return m({0, 0, 1, 1, 0, 0, 0, 1, 0});
  if ((axis == '\'' || axis == '"') && order == 2) {
    const bool prime = axis == '\'';
    switch (principal) {
      case 'x': return prime ? m({-1, 0, 0, 0, 0, -1, 0, -1, 0}) : m({-1, 0, 0, 0, 0, 1, 0, 1, 0});
      case 'y': return prime ? m({0, 0, -1, 0, -1, 0, -1, 0, 0}) : m({0, 0, 1, 0, -1, 0, 1, 0, 0});
      case 'z': return prime ? m({0, -1, 0, -1, 0, 0, 0, 0, -1}) : m({0, 1, 0, 1, 0, 0, 0, 0, -1});
    }
  }
  throw std::invalid_argument(std::string("no ") + std::to_string(order) + "-fold rotation about axis '" + axis + "'");
}

Vec3i translation_symbol(char c) {
  switch (c) {
    case 'a': return {T / 2, 0, 0};
    case 'b': return {0, T / 2, 0};
    case 'c': return {0, 0, T / 2};
    case 'n': return {T / 2, T / 2, T / 2};
    case 'u': return {T / 4, 0, 0};
    case 'v': return {0, T / 4, 0};
    case 'w': return {0, 0, T / 4};
    case 'd': return {T / 4, T / 4, T / 4};
  }
  throw std::invalid_argument(std::string("unknown translation symbol '") + c + "'");
}

}  // namespace

std::vector<Vec3i> centring_vectors(char lattice) {
  switch (std::toupper(static_cast<unsigned char>(lattice))) {
    case 'P': return {{0, 0, 0}};
    case 'A': return {{0, 0, 0}, {0, T / 2, T / 2}};
    case 'B': return {{0, 0, 0}, {T / 2, 0, T / 2}};
    case 'C': return {{0, 0, 0}, {T / 2, T / 2, 0}};
    case 'I': return {{0, 0, 0}, {T / 2, T / 2, T / 2}};
    case 'R': return {{0, 0, 0}, {2 * T / 3, T / 3, T / 3}, {T / 3, 2 * T / 3, 2 * T / 3}};
    case 'S': return {{0, 0, 0}, {T / 3, T / 3, 2 * T / 3}, {2 * T / 3, 2 * T / 3, T / 3}};
    case 'T': return {{0, 0, 0}, {T / 3, 2 * T / 3, T / 3}, {2 * T / 3, T / 3, 2 * T / 3}};
    case 'F': return {{0, 0, 0}, {0, T / 2, T / 2}, {T / 2, 0, T / 2}, {T / 2, T / 2, 0}};
  }
  throw std::invalid_argument(std::string("unknown lattice symbol '") + lattice + "' (expected one of P A B C I R S T F)");
}

std::vector<SymOp> operations_from_hall(const std::string& hall) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("Hall symbol '" + hall + "': " + why);
  };
  // Split off the origin-shift suffix "(vx vy vz)", in twelfths of the cell edges.
  std::string body = hall;
  Vec3i shift = {0, 0, 0};
  if (const size_t open = hall.find('('); open != std::string::npos) {
    const size_t close = hall.find(')', open);
    if (close == std::string::npos) fail("unclosed '('");
    // Parsed with from_chars, not a stream: a stream reads numbers through the global locale's
    // facets, and a second libstdc++ in the process (cctbx's wheel bundles one) imported after
    // xrdfast left them unable to read "0 0 4".
    const char* p = hall.data() + open + 1;
    const char* const end = hall.data() + close;
    for (int& x : shift) {
      while (p < end && *p == ' ') ++p;
      const auto [next, error] = std::from_chars(p, end, x);
      if (error != std::errc() || (next < end && *next != ' ')) fail("origin shift must be three integers (twelfths)");
      p = next;
    }
    while (p < end && *p == ' ') ++p;
    if (p != end) fail("origin shift must be three integers (twelfths)");
    for (int& x : shift) x *= T / 12;
    body = hall.substr(0, open);
  }
  std::istringstream tokens(body);
  std::string lattice;
  if (!(tokens >> lattice)) fail("empty");
  const bool centric = lattice[0] == '-';
  if (lattice.size() != (centric ? 2u : 1u)) fail("bad lattice token '" + lattice + "'");

  std::vector<SymOp> generators;
  for (const Vec3i& c : centring_vectors(lattice.back())) generators.push_back(SymOp{kIdentity, c});
  if (centric) generators.push_back(SymOp{negated(kIdentity), {0, 0, 0}});

  std::string token;
  int index = 0, previous_order = 0;
  char principal = 'z', previous_axis = 'z';
  while (tokens >> token) {
    size_t i = 0;
    const bool improper = token[i] == '-';
    if (improper) ++i;
    if (i >= token.size() || !std::strchr("12346", token[i])) fail("bad rotation token '" + token + "'");
    const int order = token[i++] - '0';
    char axis = 0;
    Vec3i t = {0, 0, 0};
    int screw = 0;
    for (; i < token.size(); ++i) {
      const char c = token[i];
      if (std::strchr("xyz'\"*", c)) axis = c;
      else if (c >= '1' && c <= '5') screw = c - '0';
      else {
        try {
          const Vec3i s = translation_symbol(c);
          for (int k = 0; k < 3; ++k) t[k] += s[k];
        } catch (const std::invalid_argument& e) {
          fail(std::string(e.what()) + " in '" + token + "'");
        }
      }
    }
    if (!axis) {  // Hall's default axes: z, then x or a-b, then the body diagonal
      if (index == 0) axis = 'z';
      else if (index == 1 && order == 2) axis = (previous_order == 2 || previous_order == 4) ? 'x' : '\'';
      else if (index == 2 && order == 3) axis = '*';
      else if (order != 1) fail("cannot infer the axis of '" + token + "'");
    }
    // a primed axis is perpendicular to the preceding one
    const char reference = (axis == '\'' || axis == '"') ? previous_axis : principal;
    Mat3i rot = rotation_matrix(axis ? axis : 'z', order, reference);
    if (screw) {
      if (axis != 'x' && axis != 'y' && axis != 'z') fail("screw on a non-basis axis in '" + token + "'");
      t[axis - 'x'] += screw * T / order;
    }
    if (improper) rot = negated(rot);
    generators.push_back(SymOp{rot, wrap_translation(t)});
    if (index == 0) principal = axis ? axis : 'z';
    if (axis && axis != '\'' && axis != '"' && axis != '*') previous_axis = axis;
    previous_order = order;
    ++index;
  }
  // Origin shift V: {R|t} -> {I|V}{R|t}{I|-V} = {R | t + V - R V}.
  if (shift != Vec3i{0, 0, 0})
    for (SymOp& g : generators) {
      const Vec3i rv = mat_vec(g.rot, shift);
      for (int k = 0; k < 3; ++k) g.tran[k] += shift[k] - rv[k];
      g.tran = wrap_translation(g.tran);
    }
  return close_group(generators);
}

}  // namespace xrdfast
