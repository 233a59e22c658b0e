// docs/architecture.md stays true, and lib/'s import rules hold: every lib file is in the module
// map, every route handlers/api.ts serves is in the route list, the API's bundle reaches no capture or
// worker code (nor pixelmatch, pngjs, sharp or Chromium), the worker loads its heavy optional
// packages only when a job needs them, lib/ imports nothing above it, and no import cycle exists.
// Imports are read from the source text: every import in this project is a static
// `import … from '…'` or `export … from '…'`, or a lazy `import('…')` with a literal specifier.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  /** A project file (relative to the root, .ts) or a package specifier. */
  target: string;
  /** `import type`: erased at build time, never in a bundle. */
  typeOnly: boolean;
  /** `import('…')`: in the bundle, but evaluated only when the code runs. */
  lazy: boolean;
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?[^;]*?\bfrom\s+'([^']+)'|^\s*import\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm;

function importsOf(file: string): Import[] {
  return [...read(file).matchAll(IMPORT)].map((m) => {
    const spec = m[3] ?? m[4] ?? m[5] ?? '';
    const target = spec.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.js$/, '.ts') : spec;
    return { target, typeOnly: Boolean(m[2]), lazy: m[5] !== undefined };
  });
}

const LIB = tsFiles('lib').sort();
const SOURCES = [...LIB, ...tsFiles('handlers'), ...tsFiles('local'), ...tsFiles('bin'), ...tsFiles('bench')];
const GRAPH = new Map(SOURCES.map((f) => [f, importsOf(f)]));

/** Every file and package `from` reaches through imports that stay in the bundle (`eager`: only those evaluated when it loads). */
function runtimeClosure(from: string, { eager = false } = {}): Set<string> {
  const seen = new Set<string>();
  const todo = [from];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const i of GRAPH.get(file) ?? []) if (!i.typeOnly && !(eager && i.lazy)) todo.push(i.target);
  }
  return seen;
}

/** A cycle through runtime imports, as the list of its files, or undefined. */
function findCycle(files: string[]): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, 'open');
    stack.push(file);
    for (const i of GRAPH.get(file) ?? []) {
      if (i.typeOnly || !GRAPH.has(i.target)) continue;
      const cycle = visit(i.target);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const f of files) {
    const cycle = visit(f);
    if (cycle) return cycle;
  }
  return undefined;
}

const ARCHITECTURE = read('docs/architecture.md');
const section = (heading: string) => {
  const start = ARCHITECTURE.indexOf(`\n## ${heading}\n`);
  expect(start, `docs/architecture.md has a "## ${heading}" section`).toBeGreaterThan(-1);
  const end = ARCHITECTURE.indexOf('\n## ', start + 1);
  return ARCHITECTURE.slice(start, end === -1 ? undefined : end);
};

describe('docs/architecture.md', () => {
  it('names every lib/ file in its module map, and no file that is gone', () => {
    const map = section('Module map');
    const missing = LIB.filter((f) => !map.includes(`\`${f}\``));
    expect(missing, 'lib files missing from the module map').toEqual([]);
    const named = [...map.matchAll(/`(lib\/[^`]+\.ts)`/g)].map((m) => m[1] ?? '');
    expect(
      named.filter((f) => !LIB.includes(f)),
      'module map rows for files that do not exist',
    ).toEqual([]);
  });

  it('lists every route handlers/api.ts serves, and only those', () => {
    const served = [...read('handlers/api.ts').matchAll(/method: '(GET|POST|PUT|DELETE)',\s*path: '([^']+)'/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    expect(served.length).toBeGreaterThanOrEqual(9);
    const listed = [...section('Routes').matchAll(/^\| `(GET|POST|PUT|DELETE) ([^`]+)` \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(listed.sort()).toEqual(served.sort());
  });
});

describe('import rules', () => {
  it('reads imports: lib/contract/request.ts imports zod and its limits', () => {
    const targets = GRAPH.get('lib/contract/request.ts')!.map((i) => i.target);
    expect(targets).toContain('zod');
    expect(targets).toContain('lib/contract/limits.ts');
  });

  it('the API (handlers/api.ts and all it reaches) imports no capture or worker code, no image or browser package', () => {
    const reached = [...runtimeClosure('handlers/api.ts')];
    const forbidden = reached.filter(
      (t) =>
        t.startsWith('lib/capture/') ||
        t.startsWith('lib/worker/') ||
        ['pixelmatch', 'pngjs', 'sharp', '@sparticuz/chromium', 'puppeteer-core'].includes(t),
    );
    expect(forbidden).toEqual([]);
  });

  it('the worker (handlers/worker.ts) loads the blocking engine, sharp, pixelmatch and turndown only when a job needs them', () => {
    // A cold start pays for every module evaluated when the bundle loads (docs/benchmarks.md).
    const heavy = ['@ghostery/adblocker', 'sharp', 'pixelmatch', 'pngjs', 'turndown', '@duckduckgo/autoconsent'];
    const eager = runtimeClosure('handlers/worker.ts', { eager: true });
    expect(heavy.filter((p) => eager.has(p))).toEqual([]);
    // ...and still reaches them, lazily: the check reads the imports it means to.
    const all = runtimeClosure('handlers/worker.ts');
    expect(['@ghostery/adblocker', 'sharp', 'pixelmatch', 'turndown'].filter((p) => !all.has(p))).toEqual([]);
  });

  it('lib/contract/ imports no api, worker or capture code (types included)', () => {
    const upward = LIB.filter((f) => f.startsWith('lib/contract/')).flatMap((f) =>
      GRAPH.get(f)!
        .filter((i) => /^lib\/(api|worker|capture)\//.test(i.target))
        .map((i) => `${f} -> ${i.target}`),
    );
    expect(upward).toEqual([]);
  });

  it('nothing in lib/ imports handlers/, local/, bin/, bench/ or tests/', () => {
    const upward = LIB.flatMap((f) =>
      GRAPH.get(f)!
        .filter((i) => /^(handlers|local|bin|bench|tests)\//.test(i.target))
        .map((i) => `${f} -> ${i.target}`),
    );
    expect(upward).toEqual([]);
  });

  it('bench/ imports nothing from tests/ (shared fixtures live in fixtures/)', () => {
    const intoTests = tsFiles('bench').flatMap((f) =>
      GRAPH.get(f)!
        .filter((i) => i.target.startsWith('tests/'))
        .map((i) => `${f} -> ${i.target}`),
    );
    expect(intoTests).toEqual([]);
  });

  it('has no import cycle in lib/, handlers/, local/, bin/ or bench/', () => {
    expect(findCycle([...GRAPH.keys()])).toBeUndefined();
  });
});
