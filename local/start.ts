// `npm start`: the whole service on http://127.0.0.1:${PORT:-3000}, its queues, messages and
// images kept in URL2PNG_DATA_DIR (default ./.url2png) so a crash or a restart loses nothing.
// `npm start -- --fresh` empties that directory first.
import { parseArgs } from 'node:util';
import { claimDataDir } from './data-dir.js';
import { startLocalStack } from './stack.js';

const { values: flags } = parseArgs({
  options: { fresh: { type: 'boolean', default: false } },
  strict: true,
});
const port = Number(process.env.PORT ?? 3000);
const emulatorPort = Number(process.env.URL2PNG_EMULATOR_PORT ?? 4566);
const log = (line: string) => process.stderr.write(`${line}\n`);

// Everything the service writes (queue, images, html inputs, keys) is for this user only: files 0600,
// directories 0700, in the data directory and in the worker's and Chromium's scratch directories.
process.umask(0o077);
const data = claimDataDir(process.env.URL2PNG_DATA_DIR || '.url2png', { fresh: flags.fresh });
const stack = await startLocalStack({ port, emulatorPort, log, dataDir: data.dir });
const released = stack.emulator.released ? ` (${stack.emulator.released} unfinished jobs from the last run queued again)` : '';
console.log(
  [
    `url2png listening on ${stack.apiUrl}`,
    `  web page   ${stack.apiUrl}/`,
    `  data       ${data.dir}${data.fresh ? ' (emptied: --fresh)' : ''}${released}`,
    `  emulator   ${stack.emulator.endpoint} (SQS + S3)`,
    `  try        curl -s ${stack.apiUrl}/screenshots -H 'content-type: application/json' -d '{"url": "https://example.com"}'`,
    'Ctrl-C stops it; `npm start -- --fresh` starts from an empty data directory.',
  ].join('\n'),
);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping (browser, worker, emulator)...`);
  const force = setTimeout(() => process.exit(1), 15_000);
  force.unref();
  await stack.stop();
  data.release();
  log('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
