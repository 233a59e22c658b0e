// moto's server mode (a Python tool installed beside cfn-lint, see CONTRIBUTING) as the SSM of
// the tests: a real HTTP server that implements GetParameter, SecureString and WithDecryption.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Moto {
  endpoint: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startMoto(timeoutMs = 90_000): Promise<Moto> {
  const port = await freePort();
  const proc: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
  };
  // Starting Python and moto takes seconds (more on a loaded machine).
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(200)) {
    if (proc.exitCode !== null)
      throw new Error(`moto_server exited with ${proc.exitCode}; is moto[server] installed (pip install 'moto[server]')?`);
    const up = await fetch(`${endpoint}/moto-api/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { endpoint, stop };
  }
  await stop();
  throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms`);
}
