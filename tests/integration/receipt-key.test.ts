// Where the receipt signing key comes from, against real stand-ins:
//   - on AWS, an SSM SecureString parameter read with GetParameter WithDecryption (AWS Systems
//     Manager API Reference, GetParameter; "Working with SecureString parameters"), served here by
//     moto's server mode: the key, a missing parameter (ParameterNotFound), a blank or non-Ed25519
//     value, and the retry after a failed load;
//   - locally, the data directory's key, which processes starting at the same moment agree on.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiptKeyLoader } from '../../lib/receipts/receipt-key.js';
import { LOCAL_REGION } from '../../local/emulator.js';
import { type Moto, startMoto } from '../support/moto.js';

// moto checks no signature; any pair will do.
const MOTO_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

const run = promisify(execFile);
let moto: Moto;
let ssm: SSMClient;

beforeAll(async () => {
  moto = await startMoto();
  ssm = new SSMClient({ region: LOCAL_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
}, 120_000);

afterAll(async () => {
  ssm?.destroy();
  await moto?.stop();
});

const scratch = () => mkdtempSync(join(process.env.URL2PNG_TEST_SCRATCH ?? tmpdir(), 'receipt-key-'));
const cfg = (name: string) => ({
  region: LOCAL_REGION,
  awsEndpoint: moto.endpoint,
  emulatorSecret: MOTO_CREDENTIALS.secretAccessKey,
  receiptKeyParameter: name,
  dataDir: scratch(),
});
const ed25519Pem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const put = (Name: string, Value: string) => ssm.send(new PutParameterCommand({ Name, Value, Type: 'SecureString', Overwrite: true }));

describe('the receipt key from an SSM SecureString parameter (moto)', () => {
  it('is read with decryption: the loader signs with the key the operator stored', async () => {
    const name = '/url2png/test/receipt-signing-key';
    const pem = ed25519Pem();
    await put(name, pem);
    // The stand-in is faithful: without decryption a SecureString does not answer the plain text.
    const raw = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: false }));
    expect(raw.Parameter?.Value).not.toBe(pem);
    const key = await receiptKeyLoader(cfg(name))();
    expect(key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()).toBe(pem);
    expect(key.keyId).toMatch(/^ed25519:[0-9a-f]{32}$/);
  });

  it('a missing parameter is a transient receipt_key_unavailable, and the next load reads it once it exists', async () => {
    const name = `/url2png/test/later-${Date.now()}`;
    const load = receiptKeyLoader(cfg(name));
    await expect(load()).rejects.toMatchObject({ name: 'TransientFailure', code: 'receipt_key_unavailable' });
    await expect(load()).rejects.toThrow(/ParameterNotFound|not found/i);
    await put(name, ed25519Pem());
    expect((await load()).keyId).toMatch(/^ed25519:/);
  });

  it('a blank value or a key that is not Ed25519 is refused, naming the parameter', async () => {
    // SSM refuses an empty value (PutParameter: Value has a minimum length of 1), so blank is the emptiest.
    const blank = '/url2png/test/blank';
    await put(blank, ' ');
    await expect(receiptKeyLoader(cfg(blank))()).rejects.toThrow(/SSM parameter \/url2png\/test\/blank .*(PEM|empty)/);
    const rsa = '/url2png/test/rsa';
    await put(rsa, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    await expect(receiptKeyLoader(cfg(rsa))()).rejects.toThrow(/holds a rsa key; receipts are signed with Ed25519/);
  });
});

describe('the local key: processes that start at the same moment agree on one key', () => {
  it('four processes, three rounds: one key per data directory, no draft left behind', async () => {
    const module = resolve(import.meta.dirname, '../../lib/receipts/receipt-key.ts');
    for (let round = 0; round < 3; round++) {
      const dataDir = join(scratch(), 'data');
      // Each process loads tsx first (slow, uneven), then waits for the same instant (the last 50 ms
      // spinning, for precision) to create the key.
      const at = Date.now() + 8000;
      const script = `import { receiptKeyLoader } from ${JSON.stringify(module)};
        await new Promise((r) => setTimeout(r, Math.max(0, ${at} - Date.now() - 50)));
        while (Date.now() < ${at});
        const key = await receiptKeyLoader({ region: 'us-east-1', awsEndpoint: '', receiptKeyParameter: '', dataDir: ${JSON.stringify(dataDir)} })();
        console.log(key.keyId);`;
      const outputs = await Promise.all(
        Array.from({ length: 4 }, () =>
          run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 }).then((r) => r.stdout.trim()),
        ),
      );
      expect(new Set(outputs).size, outputs.join(' ')).toBe(1);
      expect(outputs[0]).toMatch(/^ed25519:[0-9a-f]{32}$/);
      expect(readdirSync(dataDir)).toEqual(['receipt-signing-key.pem']);
    }
  }, 240_000);
});
