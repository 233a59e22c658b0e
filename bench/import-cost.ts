// What loading the worker's bundle costs a cold start, alone: handlers/worker.ts bundled as
// `serverless package` bundles it (serverless.yml's esbuild settings, Chromium and sharp external),
// then imported in fresh Node processes. CPU time (user + system) of the import, which a busy
// machine disturbs less than the wall clock; the wall time too. Given another checkout (e.g. a
// `git worktree add --detach /tmp/before main`), its bundle is measured too, the two interleaved.
//   npm run bench:import [-- runs [other-checkout]]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const RUNS = Number(process.argv[2] ?? 15);
const checkouts = [resolve('.'), ...(process.argv[3] ? [resolve(process.argv[3])] : [])];
// The bundles sit next to a node_modules link, so their external packages resolve as in the zip.
const dir = mkdtempSync(join(tmpdir(), 'url2png-import-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
symlinkSync(resolve('node_modules'), join(dir, 'node_modules'));
const bundles = await Promise.all(checkouts.map((checkout, i) => bundleWorker(checkout, join(dir, `worker-${i}.js`))));

async function bundleWorker(checkout: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [join(checkout, 'handlers/worker.ts')],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    mainFields: ['module', 'main'],
    external: ['@sparticuz/chromium', 'sharp'],
    banner: {
      js: "import { createRequire as __url2pngCreateRequire } from 'node:module'; const require = __url2pngCreateRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  return outfile;
}

function importOnce(bundle: string): { cpuMs: number; wallMs: number } {
  const script = `
    const cpu = process.cpuUsage();
    const t = performance.now();
    await import(${JSON.stringify(bundle)});
    const used = process.cpuUsage(cpu);
    console.log(JSON.stringify({ cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - t }));
    process.exit(0);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const samples = bundles.map(() => [] as Array<{ cpuMs: number; wallMs: number }>);
for (let i = 0; i < RUNS; i++) for (const [k, b] of bundles.entries()) samples[k]!.push(importOnce(b));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
bundles.forEach((bundle, k) => {
  const s = samples[k]!;
  console.log(
    `${checkouts[k]}: worker bundle ${Math.round(statSync(bundle).size / 1024)} KiB, import ${median(s.map((x) => x.cpuMs)).toFixed(0)} ms CPU, ` +
      `${median(s.map((x) => x.wallMs)).toFixed(0)} ms wall (median of ${RUNS} fresh processes)`,
  );
});
