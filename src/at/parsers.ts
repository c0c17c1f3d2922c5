/**
 * AT response parsers (pure functions over the information lines of an AtResponse), one module
 * per subject under src/at/parsers/. Each returns a typed value or `{ error: reason }` and never
 * throws on garbage. Formats and vectors: shared/reference/at-commands.md §1.
 */
export * from './parsers/common.js';
export * from './parsers/charset.js';
export * from './parsers/identity.js';
export * from './parsers/network.js';
export * from './parsers/sms.js';
export * from './parsers/timestamp.js';
