/** Types of scripts/bundle.mjs (plain JavaScript so the bin shims can use it without a loader). */
export declare const ROOT: string;
export type BundleName = 'picodata' | 'sim';
export declare const ENTRIES: Record<BundleName, { entry: string; sources: string[] }>;
export declare function bundlePath(name: BundleName): string;
export declare function isStale(name: BundleName): boolean;
export declare function buildBundle(name: BundleName): Promise<string>;
export declare function ensureBundle(name: BundleName): Promise<string | null>;
