// Rounding as the reference code does it. Python's `round()` and OpenCV's `cvRound`/`saturate_cast` (lrint under the
// default FPU mode) both round halves to even; JavaScript's `Math.round` rounds halves up, which silently shifts
// letterbox sizes and fixed-point coefficients.

/** Round half to even (Python `round(x)`, OpenCV `cvRound`). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f; // exact for |x| < 2^52
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** `saturate_cast<uchar>(v)` for a float/double value: round half to even, clamp to [0, 255]. */
export function saturateU8(v: number): number {
  const r = roundHalfEven(v);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/** Clamp an integer to [0, 255]. */
export const clampU8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Python's `%` for floats (result has the sign of the divisor). */
export const pyMod = (a: number, b: number): number => a - b * Math.floor(a / b);
