/**
 * The few protobuf messages of Loki's push API (pkg/push/push.proto), written by hand:
 *
 *   PushRequest      { repeated Stream streams = 1; }
 *   Stream           { string labels = 1; repeated Entry entries = 2; }
 *   Entry            { Timestamp timestamp = 1; string line = 2; repeated LabelPair structuredMetadata = 3; }
 *   LabelPair        { string name = 1; string value = 2; }
 *   Timestamp        { int64 seconds = 1; int32 nanos = 2; }
 *
 * Sizes are computed first, then everything is written into one buffer: no per-field allocation.
 */

export interface PbEntry {
  seconds: number;
  nanos: number;
  line: string;
  metadata?: [string, string][];
}

export interface PbStream {
  labels: string;
  entries: PbEntry[];
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Length-delimited field: tag + length varint + payload. */
function ldSize(payload: number): number {
  return 1 + varintSize(payload) + payload;
}

class Writer {
  readonly buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  byte(b: number): void {
    this.buf[this.pos++] = b;
  }
  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }
  string(tag: number, s: string, bytes: number): void {
    this.byte(tag);
    this.varint(bytes);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }
}

const TAG = (field: number, wire: number) => (field << 3) | wire;

export function encodePushRequest(streams: readonly PbStream[]): Buffer {
  // Pass 1: sizes.
  const streamSizes: number[] = [];
  const entrySizes: number[][] = [];
  const lineBytes: number[][] = [];
  const tsSizes: number[][] = [];
  const metaSizes: number[][][] = [];
  let total = 0;
  for (const st of streams) {
    const labelBytes = Buffer.byteLength(st.labels);
    let size = ldSize(labelBytes);
    const es: number[] = [];
    const lb: number[] = [];
    const ts: number[] = [];
    const ms: number[][] = [];
    for (const e of st.entries) {
      const tsSize = (e.seconds ? 1 + varintSize(e.seconds) : 0) + (e.nanos ? 1 + varintSize(e.nanos) : 0);
      const l = Buffer.byteLength(e.line);
      let esz = ldSize(tsSize) + ldSize(l);
      const m: number[] = [];
      for (const [k, v] of e.metadata ?? []) {
        const pair = ldSize(Buffer.byteLength(k)) + ldSize(Buffer.byteLength(v));
        m.push(pair);
        esz += ldSize(pair);
      }
      es.push(esz);
      lb.push(l);
      ts.push(tsSize);
      ms.push(m);
      size += ldSize(esz);
    }
    streamSizes.push(size);
    entrySizes.push(es);
    lineBytes.push(lb);
    tsSizes.push(ts);
    metaSizes.push(ms);
    total += ldSize(size);
  }
  // Pass 2: bytes.
  const w = new Writer(total);
  streams.forEach((st, i) => {
    w.byte(TAG(1, 2));
    w.varint(streamSizes[i]!);
    w.string(TAG(1, 2), st.labels, Buffer.byteLength(st.labels));
    st.entries.forEach((e, j) => {
      w.byte(TAG(2, 2));
      w.varint(entrySizes[i]![j]!);
      w.byte(TAG(1, 2));
      w.varint(tsSizes[i]![j]!);
      if (e.seconds) {
        w.byte(TAG(1, 0));
        w.varint(e.seconds);
      }
      if (e.nanos) {
        w.byte(TAG(2, 0));
        w.varint(e.nanos);
      }
      w.string(TAG(2, 2), e.line, lineBytes[i]![j]!);
      (e.metadata ?? []).forEach(([k, v], n) => {
        w.byte(TAG(3, 2));
        w.varint(metaSizes[i]![j]![n]!);
        w.string(TAG(1, 2), k, Buffer.byteLength(k));
        w.string(TAG(2, 2), v, Buffer.byteLength(v));
      });
    });
  });
  return w.buf.subarray(0, w.pos);
}
