// Extinction groups: the classifier's 99 labels.
//
// Space groups with the same systematic absences cannot be told apart by diffraction.
// The partition is computed, not tabulated: space groups of one lattice system are joined
// when some pair of their ITA settings has identical absences (|h|,|k|,|l| <= 8), and
// kept apart when the same absences come from screw axes of different order (3_1 vs 6_2,
// 2_1 vs 4_2) -- the distinction the extinction symbols of ITA Vol. A Table 3.2.3 make.
// Numbering and symbols follow Baggett et al. (arXiv 2604.23811, Table S2), where the
// generated table only names each computed class by one representative member.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "xrdfast/spacegroup.hpp"

namespace xrdfast {

constexpr int kNumExtinctionGroups = 99;
constexpr int kNumRuleBits = 37;

// Layout of the paper's 37-bit structured "rule" target.
struct RuleLayout {
  static constexpr int kSystem = 0;     // 7 bits: triclinic .. cubic (CrystalSystem order)
  static constexpr int kLattice = 7;    // 5 bits: P, I, F, C (A, B and C), R
  static constexpr int kPosition1 = 12; // 12 bits: 21 31 41 42 61 62 63 a b c d n
  static constexpr int kPosition2 = 24; // 6 bits: 21 a b c d n
  static constexpr int kPosition3 = 30; // 7 bits: 21 a b c d n ab
};
// Human-readable name of each rule bit, e.g. "pos1:21", "lattice:C", "system:cubic".
const std::array<std::string, kNumRuleBits>& rule_bit_names();

struct ExtinctionGroup {
  int number = 0;                      // 1..99 (99 = P1, P-1)
  std::string symbol;                  // canonical extinction symbol, e.g. "P 21/b 1 1"
  std::vector<int> space_groups;       // members, ascending
  CrystalSystem crystal_system;        // that of the first member (the paper's convention)
  LatticeSystem lattice_system;
  char lattice = 'P';                  // P, I, F, C (A/B/C collapsed) or R
  std::array<unsigned char, kNumRuleBits> rule_bits{};
  std::vector<std::string> reflection_conditions;  // of the first member's standard setting

  static const ExtinctionGroup& get(int number);   // 1..99
  static const std::vector<ExtinctionGroup>& all();
};

// Extinction group of a space-group type (1..230).
int extinction_group_of(int space_group_number);

}  // namespace xrdfast
