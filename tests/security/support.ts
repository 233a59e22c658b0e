// Test doubles for the security suite: a canary that counts every connection (TCP and UDP), an
// in-memory store, and a resolver the test controls.
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Resolver } from '../../lib/egress/egress.js';
import type { StatusRecord } from '../../lib/contract/status.js';
import type { ScreenshotStore } from '../../lib/storage/store.js';

export interface Canary {
  port: number;
  /** TCP connections accepted plus UDP datagrams received. */
  readonly count: number;
  close(): Promise<void>;
}

/** A server that must never be reached: it counts every TCP connection and UDP datagram. */
export async function startCanary(): Promise<Canary> {
  let count = 0;
  const tcp = net.createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve()));
  const port = (tcp.address() as AddressInfo).port;
  const udp = dgram.createSocket('udp4');
  udp.on('message', () => count++);
  // The same port number over UDP catches STUN/TURN (WebRTC); if it is taken, TCP alone counts.
  await new Promise<void>((resolve) => {
    udp.once('error', () => resolve());
    udp.bind(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    get count() {
      return count;
    },
    close: async () => {
      await new Promise<void>((r) => tcp.close(() => r()));
      await new Promise<void>((r) => {
        try {
          udp.close(() => r());
        } catch {
          r();
        }
      });
    },
  };
}

export class MemoryStore implements ScreenshotStore {
  readonly statuses = new Map<string, StatusRecord>();
  readonly images = new Map<string, Uint8Array>();
  async putImage(id: string, bytes: Uint8Array, _contentType: string, extension: string): Promise<string> {
    const key = `images/${id}.${extension}`;
    this.images.set(key, bytes);
    return key;
  }
  async putStatus(record: StatusRecord): Promise<void> {
    this.statuses.set(record.id, record);
  }
  async getStatus(id: string): Promise<StatusRecord | undefined> {
    return this.statuses.get(id);
  }
  async putExtracts(id: string): Promise<string> {
    return `extracts/${id}.json`;
  }
  async presignImage(key: string): Promise<string> {
    return `memory://${key}`;
  }
}

const notFound = (host: string) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });

/**
 * A resolver with fixed answers per name; a name with several answer lists gives them in turn
 * (the last one repeats). Unknown names do not exist. Every call is recorded.
 */
export function scriptedResolver(answers: Record<string, string[][]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const seen = new Map<string, number>();
  const resolve = async (host: string) => {
    calls.push(host);
    const list = answers[host.toLowerCase()];
    if (!list) throw notFound(host);
    const n = seen.get(host) ?? 0;
    seen.set(host, n + 1);
    return list[Math.min(n, list.length - 1)]!;
  };
  return Object.assign(resolve, { calls });
}
