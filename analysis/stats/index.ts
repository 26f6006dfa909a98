/** The lab's statistical functions: the public API documented in docs/statistics.md. */
export { cvPct, mean, median, quantile, variance } from './describe.js';
export { EXACT_MAX, exactUDistribution, hodgesLehmann, mannWhitney, minExactP, ranks, type MannWhitney, type ShiftEstimate } from './mann-whitney.js';
export { benjaminiHochberg } from './multiple.js';
export { exactFloor, power, tTestMde, uTestMdeSigma, type Power } from './power.js';
export { binomTestP, compareRates, type RateComparison } from './rates.js';
export { betaI, gammaQ, logGamma, normIsf, normSf, tIsf, tSf } from './special.js';
export { checkSample } from './check.js';
export { welch, welchLog, type Welch } from './welch.js';
