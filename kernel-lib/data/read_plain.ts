// Small helpers shared by the readers: turning decoded values into the plain
// JSON-like values the schemas expect, and describing a value in an error.

/**
 * A decoded value made plain: 64-bit integers (Arrow and Parquet int64, the
 * type Hugging Face writes for every integer column) become numbers when they
 * fit exactly, else decimal strings, so no reader hands a bigint to code that
 * does arithmetic or JSON.stringify on it. A missing value is null, as in
 * JSON (hyparquet gives undefined for a null group). Lists and objects are walked.
 */
export function plainValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map(plainValue);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainValue(v);
    return out;
  }
  return value;
}

/** A row's value as a plain object, or undefined when it is not one (a number, a list, null). */
export function asRowObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A short description of a value's type for error messages: "a list", "null", `number 3`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  return `${typeof value} ${String(value)}`;
}
