import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimDataDir } from '../../local/data-dir.js';

const dirs: string[] = [];
const kids: number[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const pid of kids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** A data directory whose lock names `pid`. */
function heldBy(pid: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'url2png-data-dir-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'service.pid'), String(pid));
  return dir;
}

/** A process that is alive (`sleep`), and the pid of a zombie it never reaps (its exited child). */
async function liveAndZombie(): Promise<{ live: number; zombie: number }> {
  const sh = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  kids.push(sh.pid!);
  const zombie = Number(await new Promise<string>((r) => sh.stdout.once('data', (d: Buffer) => r(String(d).trim()))));
  for (let i = 0; i < 50 && !readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z'); i++) await sleep(20);
  return { live: sh.pid!, zombie };
}

describe('one npm start per data directory', () => {
  it('refuses a directory a live service holds, naming it', async () => {
    const { live } = await liveAndZombie();
    expect(() => claimDataDir(heldBy(live))).toThrow(`is in use by another url2png service (pid ${live})`);
  });

  it('takes over from a service that was killed: its pid is gone, or a zombie not yet reaped', async () => {
    const { zombie } = await liveAndZombie();
    expect(readFileSync(`/proc/${zombie}/stat`, 'utf8')).toContain(') Z');
    const dir = heldBy(zombie);
    expect(claimDataDir(dir).dir).toBe(dir);
    expect(readFileSync(join(dir, 'service.pid'), 'utf8')).toBe(String(process.pid));
    expect(claimDataDir(heldBy(2 ** 22 + 1)).fresh).toBe(false); // above pid_max: no such process
  });
});
