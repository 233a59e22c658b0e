// Where a file of an npm package is, for the data the worker reads at run time (fonts, filter lists,
// the consent rules).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const requireHere = createRequire(import.meta.url);
/** The service's root: <root>/lib from tsx, <root>/handlers from the bundle (/var/task on Lambda). */
const ROOT = resolve(import.meta.dirname, '../..');

/**
 * A file of an npm package: under the root's node_modules (the repository; what the Lambda package
 * carries), else wherever Node finds the package (`serverless invoke local` runs the bundle from
 * .esbuild/.build); the path under the root when Node finds it nowhere.
 */
export function packageFile(pkg: string, file: string, root = ROOT): string {
  const underRoot = join(root, 'node_modules', pkg, file);
  if (existsSync(underRoot)) return underRoot;
  try {
    return join(dirname(requireHere.resolve(`${pkg}/package.json`)), file);
  } catch {
    return underRoot;
  }
}
