// Runs the real serverless CLI (osls) on a private copy of the service, so several test files
// (and several people) can package at once without sharing .esbuild/ or .serverless/.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const COPIED = ['serverless.yml', 'tuning.json', 'package.json', 'package-lock.json', 'tsconfig.json', 'handlers', 'lib', 'deploy'];

/** A scratch copy of the service with node_modules linked (not copied). */
export function copyService(): string {
  // Under the test run's scratch directory when there is one (tests/global-setup.ts removes it).
  const dir = mkdtempSync(join(process.env.URL2PNG_TEST_SCRATCH ?? tmpdir(), 'url2png-sls-'));
  for (const entry of COPIED) {
    try {
      cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    } catch {
      /* optional entries may not exist */
    }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  // The CLI's TMPDIR (see serverless()): serverless-esbuild leaves a ~130 MB staging directory per
  // function there, and `invoke local` runs the handler, with its Chromium scratch, in that process.
  mkdirSync(join(dir, '.tmp'));
  // Each copy carries a packaged Chromium and the fonts (~200 MB): gone when the process ends
  // (outside vitest, e.g. `npm run bench`).
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const serverlessBin = join(ROOT, 'node_modules/.bin/serverless');

async function serverless(dir: string, args: string[], env: Record<string, string> = {}) {
  return run(serverlessBin, args, {
    cwd: dir,
    env: { ...process.env, TMPDIR: join(dir, '.tmp'), SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', ...env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 240_000,
  });
}

export interface PackagedService {
  dir: string;
  template: TemplateJson;
  /** Zipped artifact sizes in bytes, by file name (api.zip, worker.zip, ...). */
  artifacts: Record<string, number>;
}

const cache = new Map<string, Promise<PackagedService>>();

/** `serverless package --stage <stage>` once per stage per test process. */
export function packageService(stage = 'prod', env: Record<string, string> = {}): Promise<PackagedService> {
  const key = `${stage}|${JSON.stringify(env)}`;
  if (!cache.has(key)) {
    cache.set(
      key,
      (async () => {
        const dir = copyService();
        await serverless(dir, ['package', '--stage', stage], env);
        const out = join(dir, '.serverless');
        const template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
        const artifacts: Record<string, number> = {};
        for (const f of readdirSync(out)) if (f.endsWith('.zip')) artifacts[f] = statSync(join(out, f)).size;
        return { dir, template, artifacts };
      })(),
    );
  }
  return cache.get(key)!;
}

/** `serverless invoke local`; returns the handler's result (the last JSON block it prints). */
export async function invokeLocal(dir: string, fn: string, eventFile: string, env: Record<string, string> = {}) {
  const { stdout } = await serverless(dir, ['invoke', 'local', '--stage', 'local', '-f', fn, '-p', resolve(ROOT, eventFile)], env);
  const start = stdout.lastIndexOf('\n{');
  return JSON.parse(stdout.slice(start < 0 ? stdout.indexOf('{') : start + 1));
}

/** A CloudFormation template or a part of it: untyped JSON that the assertions navigate freely. */
// biome-ignore lint/suspicious/noExplicitAny: the template is untyped JSON; each test pins the values it reads
export type TemplateJson = any;

/** The resources of a template with the given type. */
export function resourcesOfType(template: TemplateJson, type: string): Array<[string, TemplateJson]> {
  return Object.entries(template.Resources).filter(([, r]) => (r as { Type: string }).Type === type) as Array<[string, TemplateJson]>;
}
