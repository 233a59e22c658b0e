// The whole pipeline inside a client's own process, for when no service answers at a local
// endpoint: the emulator, the API, the worker (local/stack.ts) and Chromium, on free ports.
// Shared by the CLI and the MCP server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalStack } from '../local/stack.js';

/** The emulator uses node:sqlite, which Node 22 flags as experimental on every start; other warnings still print. */
function quietExperimentalWarnings() {
  for (const listener of process.listeners('warning')) process.off('warning', listener);
  process.on('warning', (warning) => {
    if (warning.name === 'ExperimentalWarning' && /SQLite/i.test(warning.message)) return;
    process.stderr.write(`(node) ${warning.name}: ${warning.message}\n`);
  });
}

export async function startPipelineHere(log: (line: string) => void): Promise<LocalStack> {
  // This process's stdout is the user's (a file path, --json, or the MCP protocol): keep the service's own output off it.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  quietExperimentalWarnings();
  // Like its queues and objects, the in-process pipeline's receipt key lives only as long as the command.
  if (!process.env.URL2PNG_DATA_DIR) {
    const dir = mkdtempSync(join(tmpdir(), 'url2png-cli-'));
    process.env.URL2PNG_DATA_DIR = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const { startLocalStack } = await import('../local/stack.js');
  return startLocalStack({ port: 0, emulatorPort: 0, log });
}
