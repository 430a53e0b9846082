// Numbers in messages, written without iostreams.
//
// A stream formats numbers through the facets of the global C++ locale. Python can load a
// second libstdc++ into the process (cctbx's wheel bundles one); imported after xrdfast, it
// left our streams writing nothing for a number ("wavelength =  is outside its range .."),
// and reading nothing from "0 0 4" (hall.cpp parses with from_chars for that reason).
// snprintf goes through the C library, of which there is one copy.
#pragma once

#include <cstdio>
#include <string>

namespace xrdfast {

// v to `significant` significant digits, as printf's %g (and a default stream): 1e+308,
// 0.0025, nan.
inline std::string number_text(double v, int significant = 6) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*g", significant, v);
  return buffer;
}

}  // namespace xrdfast
