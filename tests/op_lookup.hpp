#pragma once
// Finding an op of a built step by name, for the workload tests.
#include <catch2/catch.hpp>
#include <string>

#include "models/workload.hpp"

namespace mlasim::test {

inline const Op& find_op(const StepWorkload& w, const std::string& name) {
  for (const Op& op : w.ops) {
    if (op.name == name) return op;
  }
  FAIL("no op named " << name);
  throw;  // unreachable
}

inline bool has_op(const StepWorkload& w, const std::string& name) {
  for (const Op& op : w.ops) {
    if (op.name == name) return true;
  }
  return false;
}

}  // namespace mlasim::test
