// Types for scripts/price-micros.mjs, which the test suite imports.
export declare function micros(dollars: number, warn?: (message: string) => void): number;
