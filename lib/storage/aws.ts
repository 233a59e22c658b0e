// SDK client settings shared by store and queue: the regional endpoints on AWS, the emulator
// locally (path-style S3, since the emulator has no wildcard DNS here).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../contract/config.js';

/** The file in the data directory where `npm start` keeps the emulator secret of its run (0600). */
export const EMULATOR_SECRET_FILE = 'emulator-secret';

export function clientSettings(cfg: Pick<Config, 'region' | 'awsEndpoint' | 'emulatorSecret' | 'dataDir'>) {
  return cfg.awsEndpoint
    ? {
        region: cfg.region,
        endpoint: cfg.awsEndpoint,
        forcePathStyle: true,
        // The emulator answers only requests signed with the secret of its run (local/emulator-front.ts):
        // handed down in URL2PNG_EMULATOR_SECRET, or read from the data directory of `npm start` by a
        // tool started apart from it (`serverless invoke local`), only when a request is signed.
        credentials: async () => ({
          accessKeyId: 'local',
          secretAccessKey: cfg.emulatorSecret ?? readFileSync(join(cfg.dataDir, EMULATOR_SECRET_FILE), 'utf8').trim(),
        }),
      }
    : { region: cfg.region };
}
