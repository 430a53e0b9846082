#include "xrdfast/extinction.hpp"

#include <algorithm>
#include <bitset>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>

namespace xrdfast {
namespace {

struct TableRow {
  int number;
  int representative;
  const char* symbol;
};

const std::vector<TableRow>& extinction_table() {
  static const std::vector<TableRow> rows = {
#include "extinction_table.inc"
  };
  return rows;
}

constexpr int kRange = 8;  // absences compared over |h|,|k|,|l| <= 8: every modulus (<= 6) shows
constexpr int kSide = 2 * kRange + 1;
using AbsenceSet = std::bitset<kSide * kSide * kSide>;

AbsenceSet absences(const SpaceGroup& sg) {
  AbsenceSet bits;
  int i = 0;
  for (int h = -kRange; h <= kRange; ++h)
    for (int k = -kRange; k <= kRange; ++k)
      for (int l = -kRange; l <= kRange; ++l, ++i)
        if (sg.is_absent({h, k, l})) bits.set(static_cast<size_t>(i));
  return bits;
}

int rotation_order(const Mat3i& r) {  // proper rotations only
  switch (trace(r)) {
    case 3: return 1;
    case -1: return 2;
    case 0: return 3;
    case 1: return 4;
    default: return 6;
  }
}

// For every row of reciprocal space whose absences come from a screw axis alone (not
// implied by centring or a glide plane through the row), the order of the highest
// rotation about it. This separates P3_1 (order 3) from P6_2 (order 6), and P2_13 from
// P4_232, whose absences coincide; elsewhere the absences already differ.
std::multiset<int> unimplied_screw_orders(const SpaceGroup& sg) {
  std::multiset<int> orders;
  std::set<Vec3i> rows_seen;
  for (const Mat3i& r : sg.rotations()) {
    if (determinant(r) != 1 || r == kIdentity) continue;
    // row fixed by r: h r = h, i.e. the axis of r in reciprocal space
    Vec3i axis{0, 0, 0};
    for (int h = -2; h <= 2 && axis == Vec3i{0, 0, 0}; ++h)
      for (int k = -2; k <= 2 && axis == Vec3i{0, 0, 0}; ++k)
        for (int l = -2; l <= 2; ++l) {
          const Vec3i v{h, k, l};
          Vec3i vr{};
          for (int j = 0; j < 3; ++j) vr[j] = v[0] * r[0][j] + v[1] * r[1][j] + v[2] * r[2][j];
          if (v != Vec3i{0, 0, 0} && vr == v && std::gcd(std::gcd(std::abs(h), std::abs(k)), std::abs(l)) == 1 &&
              (h > 0 || (h == 0 && (k > 0 || (k == 0 && l > 0))))) {
            axis = v;
            break;
          }
        }
    if (!rows_seen.insert(axis).second) continue;
    bool screw_only = false;
    int order = 1;
    for (const SymOp& op : sg.operations()) {
      Vec3i ar{};
      for (int j = 0; j < 3; ++j) ar[j] = axis[0] * op.rot[0][j] + axis[1] * op.rot[1][j] + axis[2] * op.rot[2][j];
      if (ar == axis && determinant(op.rot) == 1) order = std::max(order, rotation_order(op.rot));
    }
    for (int m = 1; m <= 12 && !screw_only; ++m) {
      bool by_screw = false, by_other = false;
      const Vec3i h{m * axis[0], m * axis[1], m * axis[2]};
      for (const SymOp& op : sg.operations()) {
        Vec3i hr{};
        for (int j = 0; j < 3; ++j) hr[j] = h[0] * op.rot[0][j] + h[1] * op.rot[1][j] + h[2] * op.rot[2][j];
        if (hr != h || (h[0] * op.tran[0] + h[1] * op.tran[1] + h[2] * op.tran[2]) % kTransDen == 0) continue;
        (determinant(op.rot) == 1 && op.rot != kIdentity ? by_screw : by_other) = true;
      }
      screw_only = by_screw && !by_other;
    }
    if (screw_only) orders.insert(order);
  }
  return orders;
}

int find_root(std::vector<int>& parent, int x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

char lattice_letter(const std::string& symbol) {
  const char c = symbol.at(0);
  return (c == 'A' || c == 'B') ? 'C' : c;
}

// Rule bits of one extinction symbol, position by position.
std::array<unsigned char, kNumRuleBits> rule_bits_of(const std::string& symbol, CrystalSystem system) {
  static const std::vector<std::vector<std::string>> kPositions = {
      {"21", "31", "41", "42", "61", "62", "63", "a", "b", "c", "d", "n"},
      {"21", "a", "b", "c", "d", "n"},
      {"21", "a", "b", "c", "d", "n", "ab"}};
  static const int kOffset[] = {RuleLayout::kPosition1, RuleLayout::kPosition2, RuleLayout::kPosition3};
  static const std::string kLattices = "PIFCR";
  std::array<unsigned char, kNumRuleBits> bits{};
  bits[RuleLayout::kSystem + static_cast<int>(system)] = 1;
  bits[RuleLayout::kLattice + static_cast<int>(kLattices.find(lattice_letter(symbol)))] = 1;
  std::string rest = symbol.substr(1);
  if (const size_t obv = rest.find("(obv)"); obv != std::string::npos) rest.replace(obv, 5, " ");
  std::istringstream tokens(rest);
  std::string token;
  for (int pos = 0; tokens >> token; ++pos) {
    if (pos > 2) throw std::logic_error("extinction symbol '" + symbol + "' has more than three positions");
    std::string part;
    std::istringstream parts(token);
    while (std::getline(parts, part, '/')) {
      if (part == "-" || part == "1") continue;
      if (part == "(ab)") part = "ab";
      const auto& names = kPositions[pos];
      const auto it = std::find(names.begin(), names.end(), part);
      if (it == names.end())
        throw std::logic_error("extinction symbol '" + symbol + "': no rule bit for '" + part + "' in position " +
                               std::to_string(pos + 1));
      bits[kOffset[pos] + (it - names.begin())] = 1;
    }
  }
  return bits;
}

struct Partition {
  std::vector<ExtinctionGroup> groups;
  std::vector<int> of_space_group = std::vector<int>(231, 0);

  Partition() {
    // Join space groups of one lattice system whose settings share absences and screw orders.
    std::vector<int> parent(231);
    std::iota(parent.begin(), parent.end(), 0);
    std::map<std::tuple<int, std::string, std::multiset<int>>, int> first_with_key;
    for (const SettingRow& row : setting_table()) {
      const SpaceGroup& sg = SpaceGroup::from_hall_number(row.hall_number);
      auto key = std::make_tuple(static_cast<int>(sg.lattice_system()), absences(sg).to_string(),
                                 unimplied_screw_orders(sg));
      const auto [it, inserted] = first_with_key.emplace(std::move(key), row.number);
      if (!inserted) parent[find_root(parent, row.number)] = find_root(parent, it->second);
    }
    // Name each class by the table's representative; a class with none or two is a bug.
    std::map<int, int> number_of_root;
    for (const TableRow& t : extinction_table()) {
      const int root = find_root(parent, t.representative);
      if (!number_of_root.emplace(root, t.number).second)
        throw std::logic_error("extinction groups " + std::to_string(number_of_root[root]) + " and " +
                               std::to_string(t.number) + " fall into one computed class");
    }
    groups.resize(extinction_table().size());
    for (int sg = 1; sg <= 230; ++sg) {
      const auto it = number_of_root.find(find_root(parent, sg));
      if (it == number_of_root.end())
        throw std::logic_error("space group " + std::to_string(sg) + " falls into an unnamed extinction class");
      of_space_group[sg] = it->second;
      groups[it->second - 1].space_groups.push_back(sg);
    }
    for (const TableRow& t : extinction_table()) {
      ExtinctionGroup& eg = groups[t.number - 1];
      const SpaceGroup& first = SpaceGroup::from_number(eg.space_groups.front());
      eg.number = t.number;
      eg.symbol = t.symbol;
      eg.crystal_system = first.crystal_system();
      eg.lattice_system = first.lattice_system();
      eg.lattice = lattice_letter(eg.symbol);
      eg.rule_bits = rule_bits_of(eg.symbol, eg.crystal_system);
      eg.reflection_conditions = first.reflection_conditions();
    }
  }
};

const Partition& partition() {
  static const Partition p;
  return p;
}

}  // namespace

const std::array<std::string, kNumRuleBits>& rule_bit_names() {
  static const std::array<std::string, kNumRuleBits> names = [] {
    std::array<std::string, kNumRuleBits> n;
    int i = 0;
    for (int s = 0; s < 7; ++s) n[i++] = std::string("system:") + name(static_cast<CrystalSystem>(s));
    for (const char* l : {"P", "I", "F", "C", "R"}) n[i++] = std::string("lattice:") + l;
    for (const char* t : {"21", "31", "41", "42", "61", "62", "63", "a", "b", "c", "d", "n"}) n[i++] = std::string("pos1:") + t;
    for (const char* t : {"21", "a", "b", "c", "d", "n"}) n[i++] = std::string("pos2:") + t;
    for (const char* t : {"21", "a", "b", "c", "d", "n", "ab"}) n[i++] = std::string("pos3:") + t;
    return n;
  }();
  return names;
}

const ExtinctionGroup& ExtinctionGroup::get(int number) {
  if (number < 1 || number > kNumExtinctionGroups)
    throw std::invalid_argument("extinction group " + std::to_string(number) +
                                " is outside 1..99 (numbering of Baggett et al., Table S2)");
  return partition().groups[static_cast<size_t>(number - 1)];
}

const std::vector<ExtinctionGroup>& ExtinctionGroup::all() { return partition().groups; }

int extinction_group_of(int space_group_number) {
  crystal_system_of(space_group_number);  // validates 1..230
  return partition().of_space_group[space_group_number];
}

}  // namespace xrdfast
