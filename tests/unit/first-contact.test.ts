// First contact: `npx url2png …` on a machine whose Node is older than 22 prints the CLI's own
// output and nothing of npm's. The project runs on the bundled Node 22 (the node@22 devDependency
// comes first on every npm script's and npx's PATH, and bin/url2png.js hands over to it), so an
// `engines` field would only make npm warn EBADENGINE before each command.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** The npm on PATH (the one a user's npx is) and its own engine check, as it runs before a command. */
function npmEngineCheck(): (target: unknown, npmVer: string, nodeVer: string) => void {
  const globalRoot = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
  // npm's own copy (not a dependency of this project): the module npm runs the check with.
  const require = createRequire(join(globalRoot, 'npm', 'package.json'));
  return require(join(globalRoot, 'npm', 'node_modules', 'npm-install-checks')).checkEngine;
}

describe('npx url2png on an older Node', () => {
  it("passes npm's engine check for Node 20 and 18 (no EBADENGINE)", () => {
    const checkEngine = npmEngineCheck();
    const npmVersion = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
    for (const node of ['20.0.0', '18.20.0', '22.12.0']) expect(() => checkEngine(manifest, npmVersion, node)).not.toThrow();
    // The check bites: a manifest asking for Node 22 fails it on Node 20.
    expect(() => checkEngine({ ...manifest, engines: { node: '>=22' } }, npmVersion, '20.0.0')).toThrow(/engine/i);
  });

  it("prints the CLI's help and no npm warning, under the machine's own Node", { timeout: 60_000 }, async () => {
    // PATH without the project's node_modules/.bin entries, so npx starts with the system's node.
    const path = (process.env.PATH ?? '')
      .split(delimiter)
      .filter((p) => !p.includes('node_modules'))
      .join(delimiter);
    const systemNode = execFileSync('which', ['node'], { encoding: 'utf8', env: { ...process.env, PATH: path } }).trim();
    const { stdout, stderr } = await promisify(execFile)('npx', ['url2png', '--help'], {
      cwd: ROOT,
      env: { ...process.env, PATH: [dirname(systemNode), path].join(delimiter), npm_config_update_notifier: 'false' },
    });
    expect(stdout).toMatch(/^Usage: url2png/m);
    expect(stderr).not.toMatch(/EBADENGINE|npm warn/);
  });
});
