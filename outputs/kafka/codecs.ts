/**
 * Snappy for KafkaJS (which ships only gzip), through the `snappy` package. Producing writes
 * raw snappy blocks, which brokers accept; reading also understands the xerial framing Java
 * producers write.
 */
// kafkajs is CommonJS; Node's ESM loader does not see CompressionCodecs as a named export.
import kafkajs from "kafkajs";

const { CompressionCodecs, CompressionTypes } = kafkajs;
import { compressSync, uncompressSync } from "snappy";

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

function unsnappy(buffer: Buffer): Buffer {
  if (buffer.length < 16 || !buffer.subarray(0, 8).equals(XERIAL_MAGIC)) return uncompressSync(buffer) as Buffer;
  // xerial: magic(8) version(4) compat(4), then [length(4) block]...
  const parts: Buffer[] = [];
  for (let pos = 16; pos + 4 <= buffer.length; ) {
    const size = buffer.readUInt32BE(pos);
    pos += 4;
    parts.push(uncompressSync(buffer.subarray(pos, pos + size)) as Buffer);
    pos += size;
  }
  return Buffer.concat(parts);
}

let registered = false;

export function registerSnappyCodec(): void {
  if (registered) return;
  registered = true;
  CompressionCodecs[CompressionTypes.Snappy] = () => ({
    async compress(encoder: { buffer: Buffer }) {
      return compressSync(encoder.buffer);
    },
    async decompress(buffer: Buffer) {
      return unsnappy(buffer);
    },
  });
}
