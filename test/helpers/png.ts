/**
 * A minimal PNG reader for tests: 8-bit RGB/RGBA, non-interlaced (what
 * Chromium's --screenshot writes). Enough to sample pixels and tell a blank
 * screenshot from a rendered page.
 */
import { inflateSync } from "node:zlib";

export interface Png {
  width: number;
  height: number;
  channels: number;
  /** Unfiltered pixel bytes, row after row. */
  pixels: Uint8Array;
}

export function readPng(bytes: Uint8Array): Png {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!sig.every((b, i) => bytes[i] === b)) throw new Error("not a PNG");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  while (offset < bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(offset + 8);
      height = view.getUint32(offset + 12);
      const depth = data[8];
      const colorType = data[9];
      const interlace = data[12];
      if (depth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colorType}, interlace ${interlace}`);
      }
      channels = colorType === 6 ? 4 : 3;
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : null;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? row[x - channels]! : 0;
      const b = prev ? prev[x]! : 0;
      const c = prev && x >= channels ? prev[x - channels]! : 0;
      let v = src[x]!;
      switch (filter) {
        case 1:
          v += a;
          break;
        case 2:
          v += b;
          break;
        case 3:
          v += (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
      }
      row[x] = v & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** [r, g, b] at (x, y). */
export function pixelAt(png: Png, x: number, y: number): [number, number, number] {
  const i = (y * png.width + x) * png.channels;
  return [png.pixels[i]!, png.pixels[i + 1]!, png.pixels[i + 2]!];
}

/** How many pixels are within `tolerance` (per channel) of `rgb`. */
export function countColor(png: Png, rgb: [number, number, number], tolerance = 8): number {
  let n = 0;
  for (let i = 0; i < png.pixels.length; i += png.channels) {
    if (
      Math.abs(png.pixels[i]! - rgb[0]) <= tolerance &&
      Math.abs(png.pixels[i + 1]! - rgb[1]) <= tolerance &&
      Math.abs(png.pixels[i + 2]! - rgb[2]) <= tolerance
    ) {
      n++;
    }
  }
  return n;
}
