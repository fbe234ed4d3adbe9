// Dollars per million tokens → integer micro-dollars per million tokens, for scripts/prices.mjs.
// Apart so that the test suite can check it (test/prices.test.ts).

/**
 * Dollars per million tokens → integer micro-dollars per million tokens, exactly: from the
 * number's shortest decimal form, not by multiplying a binary float (0.0157 × 10⁶ is 15699.999999999998).
 */
export function micros(dollars, warn = console.warn) {
  if (typeof dollars !== 'number' || !Number.isFinite(dollars) || dollars < 0) {
    throw new Error(`not a price: ${dollars}`);
  }
  const [mantissa, exp = '0'] = String(dollars).split('e');
  const [whole, fraction = ''] = mantissa.split('.');
  const shift = Number(exp) + 6 - fraction.length; // value = digits × 10^shift micro-dollars
  const digits = BigInt(whole + fraction);
  if (shift >= 0) return Number(digits * 10n ** BigInt(shift));
  const scale = 10n ** BigInt(-shift);
  const q = digits / scale;
  const r = digits % scale;
  // Below a micro-dollar per million tokens: round once, half up, and say so.
  const rounded = Number(r * 2n >= scale ? q + 1n : q);
  warn(`$${dollars}/MTok is not a whole number of micro-dollars: ${rounded} used`);
  return rounded;
}
