// Helpers for the user-surface tests: run the real `url2png` launcher as a child process, find a
// port nothing listens on, and recognise image formats by their bytes.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
const LAUNCHER = resolve(ROOT, 'bin/url2png.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The variables a test stack leaves in this process that must not leak into a CLI's own choices. */
const CLEARED = ['URL2PNG_ENDPOINT', 'URL2PNG_API_KEY', 'PORT'];

/** Runs `node bin/url2png.js ...args` (the file `npx url2png` runs) and collects its output. */
export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CLEARED) delete env[name];
  Object.assign(env, options.env ?? {});
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [LAUNCHER, ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`url2png ${args.join(' ')} did not exit in time\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A port that was free a moment ago and has nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
