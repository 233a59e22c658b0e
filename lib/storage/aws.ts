// SDK client settings shared by store and queue: the regional endpoints on AWS, the emulator
// locally (path-style S3, since the emulator has no wildcard DNS here).
import type { Config } from '../contract/config.js';

export function clientSettings(cfg: Pick<Config, 'region' | 'awsEndpoint'>) {
  return cfg.awsEndpoint
    ? {
        region: cfg.region,
        endpoint: cfg.awsEndpoint,
        forcePathStyle: true,
        // The emulator checks no signatures; fixed keys spare local runs any AWS set-up.
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }
    : { region: cfg.region };
}
