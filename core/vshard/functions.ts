import type { VshardFunction } from './context.ts';
import { ROUTER_FUNCTIONS } from './router.ts';
import { STORAGE_FUNCTIONS } from './storage.ts';

/** Every `vshard.*` function an instance serves over iproto, by name. */
export const VSHARD: ReadonlyMap<string, VshardFunction> = new Map([...ROUTER_FUNCTIONS, ...STORAGE_FUNCTIONS]);
