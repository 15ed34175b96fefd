/**
 * Failure domains: `--failure-domain planet=Earth,os=BSD`. Keys and values are uppercased, so
 * they compare case-insensitively. Two domains intersect when they share at least one equal
 * key=value pair; their distance is the number of keys whose values differ.
 */

export type FailureDomain = Readonly<Record<string, string>>;

export class FailureDomainError extends Error {
  override readonly name = 'FailureDomainError';
}

/** Parses `k=v,k=v`; empty input is the empty domain. */
export function parseFailureDomain(text: string): FailureDomain {
  const domain: Record<string, string> = {};
  if (text.trim() === '') return domain;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) throw new FailureDomainError(`failure domain must be KEY=VALUE, got "${part}"`);
    const key = part.slice(0, eq).trim().toUpperCase();
    const value = part.slice(eq + 1).trim().toUpperCase();
    if (key === '' || value === '') throw new FailureDomainError(`failure domain must be KEY=VALUE, got "${part}"`);
    if (key in domain && domain[key] !== value) throw new FailureDomainError(`duplicate failure domain key ${key}`);
    domain[key] = value;
  }
  return domain;
}

/** Uppercases keys and values of a domain given as a map (join requests carry maps). */
export function normalizeFailureDomain(domain: Readonly<Record<string, string>>): FailureDomain {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(domain)) out[k.toUpperCase()] = String(v).toUpperCase();
  return out;
}

export function intersects(a: FailureDomain, b: FailureDomain): boolean {
  for (const key of Object.keys(a)) if (key in b && b[key] === a[key]) return true;
  return false;
}

/** Keys present in either domain whose values differ (a missing key differs from a present one). */
export function distance(a: FailureDomain, b: FailureDomain): number {
  let d = 0;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) if (a[key] !== b[key]) d++;
  return d;
}

/** The required names the domain lacks, sorted (Picodata's error lists them in string order). */
export function missingNames(domain: FailureDomain, required: ReadonlySet<string>): string[] {
  return [...required].filter((name) => !(name in domain)).sort();
}

export function missingNamesMessage(missing: readonly string[]): string {
  return `missing failure domain names: ${missing.join(', ')}`;
}

export function formatFailureDomain(domain: FailureDomain): string {
  return Object.keys(domain)
    .sort()
    .map((k) => `${k}=${domain[k]}`)
    .join(',');
}
