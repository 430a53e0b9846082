// Space groups: the 230 types in the 530 settings of International Tables Vol. A.
//
// Each setting is built from its Hall symbol (hall.hpp) into exact operations; everything
// a powder pattern needs is derived from those operations, never typed by hand:
// systematic absences, reflection conditions, Laue-class multiplicities and the
// asymmetric-unit representative of each hkl. Reciprocal vectors h are row vectors, so a
// rotation R maps h to h R and an operation {R|t} leaves h invariant with phase h.t.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xrdfast/symop.hpp"

namespace xrdfast {

enum class CrystalSystem { Triclinic, Monoclinic, Orthorhombic, Tetragonal, Trigonal, Hexagonal, Cubic };
// Lattice systems (ITA 2.1.1.1): trigonal P groups fall in the hexagonal lattice system,
// R groups in the rhombohedral one.
enum class LatticeSystem { Triclinic, Monoclinic, Orthorhombic, Tetragonal, Rhombohedral, Hexagonal, Cubic };

const char* name(CrystalSystem s);
const char* name(LatticeSystem s);
CrystalSystem crystal_system_of(int number);  // ITA number ranges

// A group of operations split the way reciprocal space needs it: centring translations
// times one coset representative per point-group rotation. Serves the tabulated settings
// and crystals given in any setting alike.
class GroupOps {
 public:
  explicit GroupOps(const std::vector<SymOp>& all_operations);
  const std::vector<SymOp>& all() const { return all_; }
  const std::vector<SymOp>& coset_representatives() const { return coset_reps_; }
  const std::vector<Vec3i>& centrings() const { return centrings_; }
  const std::vector<Mat3i>& rotations() const { return rotations_; }
  const std::vector<Mat3i>& laue_rotations() const { return laue_rotations_; }

  // Systematic absence: some {R|t} with hR = h and h.t not an integer.
  bool is_absent(const Vec3i& hkl) const;
  // Number of distinct reflections equivalent to hkl in the Laue class (Friedel pairs
  // included): the powder multiplicity.
  int multiplicity(const Vec3i& hkl) const;
  // Canonical representative of hkl's Laue orbit: the lexicographically largest member.
  Vec3i reduce_hkl(const Vec3i& hkl) const;
  // Whether hkl is its own canonical representative (cheaper than reduce_hkl: most
  // reflections are rejected after a few rotations).
  bool is_canonical(const Vec3i& hkl) const;

 private:
  std::vector<SymOp> all_, coset_reps_;
  std::vector<Vec3i> centrings_;
  std::vector<Mat3i> rotations_, laue_rotations_;
};

// One row of the generated table (spacegroup_table.inc).
struct SettingRow {
  int hall_number;      // 1..530, the ITA/spglib numbering of settings
  int number;           // 1..230
  const char* hall;     // Hall symbol
  const char* hm;       // full Hermann-Mauguin symbol of this setting, e.g. "P 1 1 21/a"
  const char* choice;   // setting code: "b1", "cab", "1", "2", "H", "R", ...
  const char* short_hm; // short H-M symbol of this setting, e.g. "P21/c", "P21/b", "Bme2"
};

class SpaceGroup {
 public:
  // The default (first listed, ITA standard) setting of a space-group type, 1..230.
  static const SpaceGroup& from_number(int number);
  static const SpaceGroup& from_hall_number(int hall_number);
  // Number ("14"), short or full H-M symbol of any setting ("P21/c", "P 1 1 21/a",
  // "P2_1/c"), Hall symbol ("-P 2ybc"), or number with setting code ("14:c1", "227:2",
  // "166:R"). Spaces and underscores are ignored; where an H-M symbol and a Hall symbol
  // read alike ("P 2"), H-M wins -- from_hall() is unambiguous. Throws std::invalid_argument.
  static const SpaceGroup& lookup(const std::string& symbol);
  // The setting whose operations a Hall symbol generates (any spelling of the symbol, e.g.
  // "P 2 2ab -1ab" for Pban:1). Throws if the symbol is malformed or the setting is not
  // one of the 530.
  static const SpaceGroup& from_hall(const std::string& hall);
  // The settings of a type, default first.
  static std::vector<const SpaceGroup*> settings(int number);

  int number() const { return row_->number; }
  int hall_number() const { return row_->hall_number; }
  const char* hall() const { return row_->hall; }
  const char* hm() const { return row_->hm; }
  const char* short_hm() const { return row_->short_hm; }
  const char* choice() const { return row_->choice; }
  char centring() const { return row_->hall[row_->hall[0] == '-' ? 1 : 0]; }
  CrystalSystem crystal_system() const { return crystal_system_of(number()); }
  LatticeSystem lattice_system() const;
  const std::string& point_group() const { return point_group_; }  // e.g. "2/m", "-42m"
  std::string laue_class() const;
  bool is_centrosymmetric() const;
  bool is_standard() const;  // the default setting of its type

  const GroupOps& group_ops() const { return ops_; }
  // All operations, centring included (order = operations().size()).
  const std::vector<SymOp>& operations() const { return ops_.all(); }
  // Coset representatives: one operation per point-group rotation.
  const std::vector<SymOp>& symmetry_operations() const { return ops_.coset_representatives(); }
  const std::vector<Vec3i>& centring_translations() const { return ops_.centrings(); }
  // The point-group rotations, and the Laue group (with -1 added) acting on hkl.
  const std::vector<Mat3i>& rotations() const { return ops_.rotations(); }
  const std::vector<Mat3i>& laue_rotations() const { return ops_.laue_rotations(); }

  bool is_absent(const Vec3i& hkl) const { return ops_.is_absent(hkl); }
  int multiplicity(const Vec3i& hkl) const { return ops_.multiplicity(hkl); }
  Vec3i reduce_hkl(const Vec3i& hkl) const { return ops_.reduce_hkl(hkl); }
  // Reflection conditions derived from the operations, ITA style, e.g. "h0l: l=2n".
  const std::vector<std::string>& reflection_conditions() const;

  explicit SpaceGroup(const SettingRow* row);

 private:
  const SettingRow* row_;
  GroupOps ops_;
  std::string point_group_;
  std::vector<std::string> conditions_;
};

const std::vector<SettingRow>& setting_table();

}  // namespace xrdfast
