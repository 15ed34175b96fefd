#!/usr/bin/env node
// `picodata`: runs runtime-real/cli.ts from the bundle dist/picodata.mjs, rebuilt first when a
// source is newer (about 0.2 s; starting through tsx takes 1-2 s). Without esbuild installed it
// falls back to tsx.
import { ensureBundle, ROOT } from '../bundle.mjs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const bundle = await ensureBundle('picodata');
if (bundle !== null) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(ROOT, 'runtime-real', 'cli.ts')).href);
}
