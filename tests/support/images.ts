// What came back, read from the bytes: format by magic bytes, dimensions from each format's
// header, and PNG pixels (8-bit RGB/RGBA, non-interlaced: what Chromium writes) via zlib.
import { inflateSync } from 'node:zlib';

export type Format = 'png' | 'jpeg' | 'webp';

export function sniffFormat(bytes: Uint8Array): Format | 'unknown' {
  const b = Buffer.from(bytes);
  if (b.subarray(0, 8).toString('hex') === '89504e470d0a1a0a') return 'png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  return 'unknown';
}

export function imageSize(bytes: Uint8Array): { width: number; height: number } {
  const b = Buffer.from(bytes);
  switch (sniffFormat(b)) {
    case 'png':
      return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
    case 'jpeg': {
      // Walk the markers to the first start-of-frame (SOF0..SOF15 except DHT/JPG/DAC).
      let i = 2;
      while (i < b.length) {
        if (b[i] !== 0xff) throw new Error('bad JPEG marker');
        const marker = b[i + 1]!;
        const len = b.readUInt16BE(i + 2);
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
          return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
        }
        i += 2 + len;
      }
      throw new Error('JPEG without a frame header');
    }
    case 'webp': {
      const chunk = b.subarray(12, 16).toString('latin1');
      if (chunk === 'VP8 ') return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
      if (chunk === 'VP8L') {
        const bits = b.readUInt32LE(21);
        return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
      }
      if (chunk === 'VP8X') return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
      throw new Error(`unknown WebP chunk ${chunk}`);
    }
    default:
      throw new Error('not an image this test knows');
  }
}

export interface Pixels {
  width: number;
  height: number;
  /** [r, g, b] at (x, y). */
  at(x: number, y: number): [number, number, number];
  /** Opacity at (x, y): 0 transparent to 255 opaque (255 for PNGs without alpha). */
  alpha(x: number, y: number): number;
}

export function decodePng(bytes: Uint8Array): Pixels {
  const b = Buffer.from(bytes);
  if (sniffFormat(b) !== 'png') throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (offset < b.length) {
    const length = b.readUInt32BE(offset);
    const type = b.subarray(offset + 4, offset + 8).toString('latin1');
    const data = b.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs');
      colorType = data[9]!;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  const channels = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  if (!channels) throw new Error(`PNG colour type ${colorType} not supported`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels]! : 0;
      const up = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels]! : 0;
      let v = line[x]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += up;
      else if (filter === 3) v += (a + up) >> 1;
      else if (filter === 4) {
        const p = a + up - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
      }
      out[y * stride + x] = v & 0xff;
    }
  }
  return {
    width,
    height,
    at(x, y) {
      const i = y * stride + x * channels;
      return [out[i]!, out[i + 1]!, out[i + 2]!];
    },
    alpha(x, y) {
      return channels === 4 ? out[y * stride + x * channels + 3]! : 255;
    },
  };
}

/** Colour distance, so anti-aliasing and colour management do not make tests flaky. */
export const near = (a: [number, number, number], b: [number, number, number], tolerance = 24) =>
  a.every((v, i) => Math.abs(v - b[i]!) <= tolerance);
