#include <fmt/format.h>

int main() {
  fmt::print("mlasim\n");
  return 0;
}
