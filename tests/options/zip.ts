// Just enough of the zip format to list a Lambda artifact and extract a few entries from it.
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  size: number;
  compressedSize: number;
  read(): Buffer;
}

export function readZip(path: string): ZipEntry[] {
  const b = readFileSync(path);
  let eocd = b.length - 22;
  while (eocd >= 0 && b.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error(`${path}: no end of central directory`);
  let count = b.readUInt16LE(eocd + 10);
  let offset = b.readUInt32LE(eocd + 16);
  if (count === 0xffff || offset === 0xffffffff) {
    // zip64: the locator sits right before the EOCD record.
    const z64 = Number(b.readBigUInt64LE(eocd - 20 + 8));
    count = Number(b.readBigUInt64LE(z64 + 32));
    offset = Number(b.readBigUInt64LE(z64 + 48));
  }
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (b.readUInt32LE(offset) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = b.readUInt16LE(offset + 10);
    const compressedSize = b.readUInt32LE(offset + 20);
    const size = b.readUInt32LE(offset + 24);
    const nameLength = b.readUInt16LE(offset + 28);
    const extraLength = b.readUInt16LE(offset + 30);
    const commentLength = b.readUInt16LE(offset + 32);
    const local = b.readUInt32LE(offset + 42);
    const name = b.subarray(offset + 46, offset + 46 + nameLength).toString('utf8');
    entries.push({
      name,
      size,
      compressedSize,
      read() {
        const start = local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28);
        const data = b.subarray(start, start + compressedSize);
        return method === 0 ? Buffer.from(data) : inflateRawSync(data);
      },
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
