// The embedded emulator has no authentication and holds the service's data: it must answer on
// the loopback address only (fauxqs itself binds every interface).
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../local/emulator.js';

/** The local addresses of the listening sockets on `port`, from the kernel's own tables. */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '0A' && local?.endsWith(`:${hexPort}`)) out.push(local.split(':')[0]!);
    }
  }
  return out;
}

describe('the local emulator', () => {
  let emulator: Emulator | undefined;
  afterAll(() => emulator?.stop());

  it('listens on 127.0.0.1 only, not on every interface', async () => {
    emulator = await startEmulator({ port: 0 });
    expect(listeningAddresses(emulator.port)).toEqual(['0100007F']); // 127.0.0.1, little-endian hex
    expect(emulator.endpoint).toBe(`http://127.0.0.1:${emulator.port}`);
  });
});
