#!/usr/bin/env node
// `npx url2png <url> [-o file]`: the command-line client. The client is TypeScript (bin/cli.ts) and
// shares the service's code for the in-process fallback, so this launcher runs it through tsx's
// loader in this same process (signals and exit codes stay the client's own).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The service needs Node >= 22 (npx puts the project's node@22 first on PATH). Started by an older
// node directly (`node bin/url2png.js`), hand over to the project's own Node 22.
if (Number(process.versions.node.split('.')[0]) < 22) {
  const node22 = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(node22)) {
    process.stderr.write(`url2png needs Node 22 or newer (this is ${process.version}); run it with npx url2png after npm install\n`);
    process.exit(4);
  }
  const child = spawnSync(node22, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 130);
}

const { register } = await import('tsx/esm/api');
register();
await import('./cli.ts');
