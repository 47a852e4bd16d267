#pragma once
// Register-fragment layouts of the tensor-core instruction the kernels use, mma.sync.m16n8k16 (bf16 in, fp32
// accumulate), and of ldmatrix.x4, written as constexpr index functions (PTX ISA, "Matrix fragments for
// mma.m16n8k16" and "ldmatrix"). The kernels compute their shared-memory addresses with these same functions,
// and the Catch2 tests check on the CPU that the addressing delivers exactly the fragments mma expects.
#if defined(__CUDACC__)
#define MLASIM_HD __host__ __device__
#else
#define MLASIM_HD
#endif

namespace mlasim::attention::mma {

/// A (row, column) coordinate inside a tile.
struct Coord {
  int row;
  int col;
  MLASIM_HD constexpr bool operator==(const Coord& o) const { return row == o.row && col == o.col; }
};

/// A operand (16x16, row-major) of m16n8k16: register `reg` (0..3) of `lane` holds two bf16, `half` 0 or 1.
MLASIM_HD constexpr Coord a_frag(int lane, int reg, int half) {
  return {(lane >> 2) + 8 * (reg & 1), 2 * (lane & 3) + half + 8 * (reg >> 1)};
}
/// B operand (16x8, k x n): register `reg` (0..1); returned as {k, n}.
MLASIM_HD constexpr Coord b_frag(int lane, int reg, int half) {
  return {2 * (lane & 3) + half + 8 * reg, lane >> 2};
}
/// C/D accumulator (16x8 fp32): element `idx` (0..3) of `lane`.
MLASIM_HD constexpr Coord c_frag(int lane, int idx) {
  return {(lane >> 2) + 8 * (idx >> 1), 2 * (lane & 3) + (idx & 1)};
}

/// ldmatrix.x4: lane l gives the address of row (l & 7) of stored 8x8 matrix (l >> 3). Without .trans,
/// register i of lane l receives stored matrix i at {row l >> 2, col 2(l & 3) + half}; with .trans, at {row
/// 2(l & 3) + half, col l >> 2}.
MLASIM_HD constexpr Coord ldmatrix_elem(int lane, int half, bool trans) {
  return trans ? Coord{2 * (lane & 3) + half, lane >> 2} : Coord{lane >> 2, 2 * (lane & 3) + half};
}

/// Address pattern "A": lane l points at tile {row (l & 7) + 8((l >> 3) & 1), col 8(l >> 4)} of a 16x16 tile
/// stored row-major. Non-transposed it loads the A fragment of a [rows][k] tile (Q, P); transposed, from a
/// [k][n] tile stored k-major (V: [token][feature]), it loads B fragments {b0, b1} of n-tile 0 into registers
/// 0, 1 and of n-tile 1 (columns 8..15) into registers 2, 3.
MLASIM_HD constexpr Coord ldsm_addr_a(int lane) {
  return {(lane & 7) + 8 * ((lane >> 3) & 1), 8 * (lane >> 4)};
}
/// Address pattern "B from an n-major tile": lane l points at {row n = (l & 7) + 8(l >> 4), col k = 8((l >>
/// 3) & 1)} of a [n][k] tile (K: [token][feature]); non-transposed it loads {b0, b1} of n-tile 0 (tokens
/// 0..7) into registers 0, 1 and of n-tile 1 (tokens 8..15) into registers 2, 3, for one 16-wide k-step.
MLASIM_HD constexpr Coord ldsm_addr_bk(int lane) {
  return {(lane & 7) + 8 * (lane >> 4), 8 * ((lane >> 3) & 1)};
}

}  // namespace mlasim::attention::mma
