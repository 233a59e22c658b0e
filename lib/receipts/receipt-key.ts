// The Ed25519 key that signs capture receipts. On AWS the private key is an SSM SecureString
// parameter (its name in URL2PNG_RECEIPT_KEY_PARAMETER, a PKCS#8 PEM), read once per container.
// Without a parameter (the local runtime: the emulator has no SSM) the key is created once in the
// data directory (URL2PNG_DATA_DIR/receipt-signing-key.pem) and reused by every process after.
// The API only serves the public half (GET /receipt-key), so it reads only that: on AWS a plain
// String parameter of its own (URL2PNG_RECEIPT_PUBLIC_KEY_PARAMETER, an SPKI PEM), which is all its
// role may read; locally receipt-signing-key.pub.pem beside the private key.
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
export const LOCAL_PUBLIC_KEY_FILE = 'receipt-signing-key.pub.pem';

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

/** The local key's public half, for the API; made (with the pair, if need be) on first use. */
function localPublicKey(dataDir: string): Pick<ReceiptKey, 'publicKey' | 'keyId'> {
  const file = join(dataDir, LOCAL_PUBLIC_KEY_FILE);
  try {
    return publicFromPem(readFileSync(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // No public file yet (a fresh directory, or one from before it existed): the pair makes it.
  const { publicKey } = localKey(dataDir);
  writeFileSync(file, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o600 });
  return { publicKey, keyId: keyIdOf(publicKey) };
}

function publicFromPem(pem: string, where: string): Pick<ReceiptKey, 'publicKey' | 'keyId'> {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem);
  } catch (error) {
    throw new Error(`${where} does not hold a PEM public key (${(error as Error).message})`);
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error(`${where} holds a ${publicKey.asymmetricKeyType} key, not Ed25519`);
  return { publicKey, keyId: keyIdOf(publicKey) };
}

async function parameterValue(
  cfg: Pick<Config, 'region' | 'awsEndpoint' | 'emulatorSecret' | 'dataDir'>,
  name: string,
  decrypt: boolean,
): Promise<string> {
  // AWS_ENDPOINT_URL_SSM is the SDK's own service-specific endpoint variable (AWS SDKs and Tools
  // Reference Guide, "Service-specific endpoints"); an explicit endpoint in code would override it,
  // so it is honoured here: the local stack's S3 and SQS emulator has no SSM, and tests point SSM
  // at an SSM server (moto) with it.
  const ssmEndpoint = process.env.AWS_ENDPOINT_URL_SSM;
  const ssm = new SSMClient({ ...clientSettings(cfg), ...(ssmEndpoint ? { endpoint: ssmEndpoint } : {}) });
  const out = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: decrypt }));
  const value = out.Parameter?.Value;
  if (!value) throw new Error(`the SSM parameter ${name} is empty`);
  return value;
}

async function parameterKey(
  cfg: Pick<Config, 'region' | 'awsEndpoint' | 'emulatorSecret' | 'dataDir' | 'receiptKeyParameter'>,
): Promise<ReceiptKey> {
  return fromPem(await parameterValue(cfg, cfg.receiptKeyParameter, true), `the SSM parameter ${cfg.receiptKeyParameter}`);
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

/**
 * The public half only, for the API (GET /receipt-key): from its own parameter on AWS, from the
 * data directory locally. Loaded on first use and kept; a failed load is not kept.
 */
export function publicReceiptKeyLoader(
  cfg: Pick<Config, 'region' | 'awsEndpoint' | 'receiptPublicKeyParameter' | 'dataDir'>,
): () => Promise<Pick<ReceiptKey, 'publicKey' | 'keyId'>> {
  let loaded: Promise<Pick<ReceiptKey, 'publicKey' | 'keyId'>> | undefined;
  return () =>
    (loaded ??= (async () =>
      cfg.receiptPublicKeyParameter
        ? publicFromPem(
            await parameterValue(cfg, cfg.receiptPublicKeyParameter, false),
            `the SSM parameter ${cfg.receiptPublicKeyParameter}`,
          )
        : localPublicKey(cfg.dataDir))().catch((error: Error) => {
      loaded = undefined;
      throw error;
    }));
}
