// Ferry's hashing worker: reads a file part by part, off the page's thread,
// and reports each part's SHA-256 (base64, for `x-amz-checksum-sha256`), or
// the whole file's SHA-256 (hex). Started by src/platform/hasher.rs.
//
// in:  { file: Blob, partSize: number, parts: bool, whole: bool, until: n,
//        first: n, stride: n }
//      (with `parts`, this worker reads parts first, first + stride, …: a
//      few workers share a file's parts; `first`, `stride` default to 1)
//      then { until: n } as the page allows more: parts past `until` wait,
//      so the worker stays a few parts ahead of the uploads instead of
//      reading the whole file at once (no `until`: no limit).
// out: { part: n, checksum } per part (if `parts`, WebCrypto), or (if
//      `whole`, a streaming SHA-256, slower) { read: bytes } as it goes and
//      then { sha256 }; or { error }.

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// SHA-256 (FIPS 180-4) fed in pieces: WebCrypto only hashes whole buffers.
class Sha256 {
  constructor() {
    this.h = new Int32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    this.w = new Int32Array(64);
    this.tail = new Uint8Array(64);
    this.tailLength = 0;
    this.length = 0;
  }

  update(bytes) {
    this.length += bytes.length;
    let at = 0;
    if (this.tailLength > 0) {
      at = Math.min(64 - this.tailLength, bytes.length);
      this.tail.set(bytes.subarray(0, at), this.tailLength);
      this.tailLength += at;
      if (this.tailLength < 64) return;
      this.blocks(this.tail, 0, 64);
      this.tailLength = 0;
    }
    const whole = at + Math.floor((bytes.length - at) / 64) * 64;
    this.blocks(bytes, at, whole);
    this.tail.set(bytes.subarray(whole), 0);
    this.tailLength = bytes.length - whole;
  }

  blocks(bytes, from, to) {
    const w = this.w;
    const h = this.h;
    let h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4], h5 = h[5], h6 = h[6], h7 = h[7];
    for (let o = from; o < to; o += 64) {
      for (let t = 0; t < 16; t++) {
        const i = o + t * 4;
        w[t] = (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3];
      }
      for (let t = 16; t < 64; t++) {
        const a = w[t - 15];
        const b = w[t - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
      }
      let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, k = h7;
      for (let t = 0; t < 64; t++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const t1 = (k + S1 + ch + K[t] + w[t]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const t2 = (S0 + maj) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0;
        d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + k) | 0;
    }
    h[0] = h0; h[1] = h1; h[2] = h2; h[3] = h3; h[4] = h4; h[5] = h5; h[6] = h6; h[7] = h7;
  }

  hex() {
    const bits = this.length * 8;
    const pad = new Uint8Array(this.tailLength < 56 ? 64 - this.tailLength : 128 - this.tailLength);
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    view.setUint32(pad.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(pad.length - 4, bits >>> 0);
    this.update(pad);
    return Array.from(this.h, (x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
  }
}

function base64(buffer) {
  let text = '';
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text);
}

let until = Infinity;
let wake = null;

// Resolves once part `n` may be read.
async function allowed(n) {
  while (n > until) await new Promise((resolve) => (wake = resolve));
}

// Reads `blob` into `buffer` (an ArrayBuffer at least as long), through a
// "bring your own buffer" reader, so reading allocates nothing the garbage
// collector must find: the page's memory doesn't follow the part size.
// Answers the buffer (a read hands it over and gives it back as a new
// ArrayBuffer object over the same memory).
async function fill(blob, buffer) {
  const reader = blob.stream().getReader({ mode: 'byob' });
  let offset = 0;
  while (offset < blob.size) {
    const { value, done } = await reader.read(new Uint8Array(buffer, offset, blob.size - offset));
    if (done) break;
    buffer = value.buffer;
    offset += value.byteLength;
  }
  reader.releaseLock();
  if (offset !== blob.size) throw new Error('the file changed while it was read');
  return buffer;
}

// A whole file is streamed this much at a time.
const CHUNK = 4 * 1024 * 1024;

async function hash({ file, partSize, parts, whole, first = 1, stride = 1 }) {
  try {
    const hasher = whole ? new Sha256() : null;
    // With a whole file's hash, every part is read, in order.
    if (hasher) [first, stride] = [1, 1];
    // One buffer, reused: for a part (WebCrypto hashes whole buffers only),
    // or for a chunk of a whole file.
    let buffer = new ArrayBuffer(Math.min(parts ? partSize : CHUNK, file.size));
    for (
      let part = first, start = (first - 1) * partSize;
      start < file.size || part === 1;
      part += stride, start += stride * partSize
    ) {
      await allowed(part);
      const end = Math.min(start + partSize, file.size);
      if (parts) {
        buffer = await fill(file.slice(start, end), buffer);
        const digest = await crypto.subtle.digest('SHA-256', new Uint8Array(buffer, 0, end - start));
        self.postMessage({ part, checksum: base64(digest) });
      }
      if (hasher) {
        for (let at = start; at < end; at += CHUNK) {
          const to = Math.min(at + CHUNK, end);
          buffer = await fill(file.slice(at, to), buffer);
          hasher.update(new Uint8Array(buffer, 0, to - at));
        }
        self.postMessage({ read: end });
      }
      if (end >= file.size) break;
    }
    if (hasher) self.postMessage({ sha256: hasher.hex() });
  } catch (error) {
    self.postMessage({ error: String(error && error.message || error) });
  }
}

self.onmessage = ({ data }) => {
  if (typeof data.until === 'number') {
    until = data.until;
    if (wake) wake();
    wake = null;
  }
  if (data.file) hash(data);
};
