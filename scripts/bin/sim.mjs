#!/usr/bin/env node
// `sim`: runs runtime-sim/cli.ts from the bundle dist/sim.mjs, rebuilt first when a source is
// newer; without esbuild installed it falls back to tsx.
import { ensureBundle, ROOT } from '../bundle.mjs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const bundle = await ensureBundle('sim');
if (bundle !== null) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(ROOT, 'runtime-sim', 'cli.ts')).href);
}
