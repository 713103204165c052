// Fixes the seed fast-check draws the property tests' cases from when UNDERSTUDY_PROPERTY_SEED names
// one. The mutate tool loads it (`--import`) into its unit-test runs, so a sweep run twice tries the
// same cases and a mutant is caught, or survives, the same way each time. Without it (`npm test`),
// each run draws new cases, and a failure prints the seed that draws it again.

import fc from 'fast-check';

const text = process.env.UNDERSTUDY_PROPERTY_SEED;
if (text !== undefined) {
  const seed = Number(text);
  if (!Number.isSafeInteger(seed))
    throw new Error(`UNDERSTUDY_PROPERTY_SEED must be an integer, got ${text}`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
