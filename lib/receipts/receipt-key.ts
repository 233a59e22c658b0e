// The Ed25519 key that signs capture receipts. On AWS the private key is an SSM SecureString
// parameter (its name in URL2PNG_RECEIPT_KEY_PARAMETER, a PKCS#8 PEM), read once per container.
// Without a parameter (the local runtime: the emulator has no SSM) the key is created once in the
// data directory (URL2PNG_DATA_DIR/receipt-signing-key.pem) and reused by every process after.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { clientSettings } from '../storage/aws.js';
import type { Config } from '../contract/config.js';
import { TransientFailure } from '../contract/failures.js';

export interface ReceiptKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Names the key in receipts: "ed25519:" + the first 32 hex digits of SHA-256 over its SPKI DER. */
  keyId: string;
}

export const LOCAL_KEY_FILE = 'receipt-signing-key.pem';

/** The public half, as GET /receipt-key serves it and `url2png verify` reads it. */
export interface PublicReceiptKey {
  algorithm: 'Ed25519';
  keyId: string;
  /** SPKI PEM. */
  publicKey: string;
}

export function keyIdOf(publicKey: KeyObject): string {
  return `ed25519:${createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 32)}`;
}

export function publicPart(key: Pick<ReceiptKey, 'publicKey' | 'keyId'>): PublicReceiptKey {
  return { algorithm: 'Ed25519', keyId: key.keyId, publicKey: key.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function fromPem(pem: string, where: string): ReceiptKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new Error(`${where} does not hold a PEM private key (${(error as Error).message})`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `${where} holds a ${privateKey.asymmetricKeyType} key; receipts are signed with Ed25519 (openssl genpkey -algorithm ed25519)`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** The data directory's key, created on first use. Safe when two processes start at once. */
function localKey(dataDir: string): ReceiptKey {
  const file = join(dataDir, LOCAL_KEY_FILE);
  try {
    return fromPem(readFileSync(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // Written whole under a private name, then linked into place: link() fails if another process
  // got there first, so nobody ever reads a half-written key and the first key wins.
  const draft = `${file}.${process.pid}.tmp`;
  writeFileSync(draft, pem, { mode: 0o600 });
  try {
    linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(draft, { force: true });
  }
  return fromPem(readFileSync(file, 'utf8'), file);
}

async function parameterKey(
  cfg: Pick<Config, 'region' | 'awsEndpoint' | 'emulatorSecret' | 'dataDir' | 'receiptKeyParameter'>,
): Promise<ReceiptKey> {
  const ssm = new SSMClient(clientSettings(cfg));
  const out = await ssm.send(new GetParameterCommand({ Name: cfg.receiptKeyParameter, WithDecryption: true }));
  const value = out.Parameter?.Value;
  if (!value) throw new Error(`the SSM parameter ${cfg.receiptKeyParameter} is empty`);
  return fromPem(value, `the SSM parameter ${cfg.receiptKeyParameter}`);
}

/**
 * The process's key, loaded on first use and kept (once per container on Lambda). A failed load
 * is not kept: the next job tries again, and its failure is transient, so the job is retried.
 */
export function receiptKeyLoader(
  cfg: Pick<Config, 'region' | 'awsEndpoint' | 'receiptKeyParameter' | 'dataDir'>,
): () => Promise<ReceiptKey> {
  let loaded: Promise<ReceiptKey> | undefined;
  return () =>
    (loaded ??= (async () => (cfg.receiptKeyParameter ? parameterKey(cfg) : localKey(cfg.dataDir)))().catch((error: Error) => {
      loaded = undefined;
      throw new TransientFailure('receipt_key_unavailable', `the receipt signing key could not be loaded: ${error.message}`, {
        cause: error,
      });
    }));
}
