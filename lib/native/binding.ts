/**
 * The only loader of the native addon. node-gyp-build picks `build/Release` when a local build
 * exists, else the matching binary in `prebuilds/<platform>-<arch>/` (with `PREBUILDS_ONLY=1`, the
 * prebuilds alone). Everything else imports the binding from here.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { NativeBinding } from './types.js';

const require = createRequire(import.meta.url);
const load = require('node-gyp-build') as ((dir: string) => unknown) & {
  resolve(dir: string): string;
};

/** The package root: two levels up from both `lib/native/` (sources) and `dist/native/` (built). */
export const packageRoot: string = fileURLToPath(new URL('../../', import.meta.url));

/** The path of the binary that was loaded: a local `build/` or one of `prebuilds/`. */
export const nativeFile: string = load.resolve(packageRoot);

/** The loaded addon. */
export const native: NativeBinding = load(packageRoot) as NativeBinding;
