/**
 * Just enough protobuf and gRPC for the CRI and containerd calls the detector makes (a few
 * unary calls on a unix socket): a field-by-field encoder, a decoder to raw fields, and one
 * unary call over HTTP/2. No code generation: the CRI client (cri.ts) names the field numbers
 * of k8s.io/cri-api's runtime/v1 api.proto, the containerd client (containerd.ts) those of
 * containerd's api/services protos.
 */
import { connect as h2connect, constants, type ClientHttp2Session } from "node:http2";
import { connect as netConnect } from "node:net";
import { PeregrineError } from "../../errors.js";

// --- encoding ---

function varint(n: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

const key = (field: number, wire: number) => varint((field << 3) | wire);

export const pb = {
  str: (field: number, s: string | undefined): Buffer => (s ? Buffer.concat([key(field, 2), varint(Buffer.byteLength(s)), Buffer.from(s)]) : Buffer.alloc(0)),
  int: (field: number, n: number | bigint | boolean | undefined): Buffer =>
    n === undefined || n === 0 || n === false || n === 0n ? Buffer.alloc(0) : Buffer.concat([key(field, 0), varint(typeof n === "boolean" ? 1 : n)]),
  msg: (field: number, ...parts: Buffer[]): Buffer => {
    const body = Buffer.concat(parts);
    return Buffer.concat([key(field, 2), varint(body.length), body]);
  },
  map: (field: number, m: Record<string, string> | undefined): Buffer =>
    Buffer.concat(Object.entries(m ?? {}).map(([k, v]) => pb.msg(field, pb.str(1, k), pb.str(2, v)))),
  strs: (field: number, list: readonly string[] | undefined): Buffer => Buffer.concat((list ?? []).map((s) => pb.str(field, s))),
};

// --- decoding ---

/** A decoded message: each field number's values in order (varints as bigint, the rest as bytes). */
export class Fields {
  constructor(readonly raw: Map<number, (bigint | Buffer)[]>) {}

  static decode(buf: Buffer): Fields {
    const raw = new Map<number, (bigint | Buffer)[]>();
    let i = 0;
    const readVarint = (): bigint => {
      let v = 0n;
      let shift = 0n;
      for (;;) {
        if (i >= buf.length) throw new Error("truncated protobuf varint");
        const b = buf[i++]!;
        v |= BigInt(b & 0x7f) << shift;
        if ((b & 0x80) === 0) return v;
        shift += 7n;
      }
    };
    while (i < buf.length) {
      const k = Number(readVarint());
      const field = k >>> 3;
      const wire = k & 7;
      let value: bigint | Buffer;
      if (wire === 0) value = readVarint();
      else if (wire === 2) {
        const len = Number(readVarint());
        if (i + len > buf.length) throw new Error("truncated protobuf field");
        value = buf.subarray(i, i + len);
        i += len;
      } else if (wire === 1) {
        value = buf.subarray(i, i + 8);
        i += 8;
      } else if (wire === 5) {
        value = buf.subarray(i, i + 4);
        i += 4;
      } else throw new Error(`unsupported protobuf wire type ${wire}`);
      let list = raw.get(field);
      if (!list) raw.set(field, (list = []));
      list.push(value);
    }
    return new Fields(raw);
  }

  private last(field: number): bigint | Buffer | undefined {
    const l = this.raw.get(field);
    return l?.[l.length - 1];
  }

  str(field: number): string {
    const v = this.last(field);
    return Buffer.isBuffer(v) ? v.toString("utf8") : "";
  }

  int(field: number): bigint {
    const v = this.last(field);
    return typeof v === "bigint" ? BigInt.asIntN(64, v) : 0n;
  }

  bool(field: number): boolean {
    return this.int(field) !== 0n;
  }

  msg(field: number): Fields | undefined {
    const v = this.last(field);
    return Buffer.isBuffer(v) ? Fields.decode(v) : undefined;
  }

  msgs(field: number): Fields[] {
    return (this.raw.get(field) ?? []).filter(Buffer.isBuffer).map((b) => Fields.decode(b));
  }

  map(field: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.msgs(field)) out[e.str(1)] = e.str(2);
    return out;
  }
}

// --- unary gRPC over HTTP/2 on a unix socket ---

/** The engine answered a gRPC status other than OK. */
export class GrpcError extends PeregrineError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super("CONTAINER_ENGINE_DOWN", message);
    this.name = "GrpcError";
  }
}

/** What a failed call says: a gRPC status's message, or the socket's errno and message. */
export function callFailure(err: unknown): string {
  if (err instanceof GrpcError) return err.message;
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : e.message;
}

/** gRPC status codes the CRI client tells apart. */
export const GRPC_NOT_FOUND = 5;

export class UnixGrpcClient {
  private session: ClientHttp2Session | undefined;

  constructor(
    readonly socket: string,
    private readonly timeoutMs = 5000,
  ) {}

  private connect(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = h2connect("http://localhost", { createConnection: () => netConnect(this.socket) });
    s.on("error", () => undefined); // each call reports its own failure
    s.on("close", () => {
      if (this.session === s) this.session = undefined;
    });
    s.unref();
    this.session = s;
    return s;
  }

  /**
   * One unary call; rejects with GrpcError for a gRPC status, with Error when the socket fails.
   * `metadata`: request headers (gRPC metadata, e.g. containerd's `containerd-namespace`).
   */
  call(path: string, request: Buffer, metadata: Record<string, string> = {}): Promise<Fields> {
    return new Promise((resolve, reject) => {
      let session: ClientHttp2Session;
      try {
        session = this.connect();
      } catch (err) {
        reject(err as Error);
        return;
      }
      const req = session.request({
        [constants.HTTP2_HEADER_METHOD]: "POST",
        [constants.HTTP2_HEADER_PATH]: path,
        "content-type": "application/grpc",
        te: "trailers",
        ...metadata,
      });
      const chunks: Buffer[] = [];
      let status: number | undefined;
      let message = "";
      const timer = setTimeout(() => {
        req.close(constants.NGHTTP2_CANCEL);
        reject(new Error(`no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const takeStatus = (h: Record<string, unknown>) => {
        if (h["grpc-status"] !== undefined) {
          status = Number(h["grpc-status"]);
          message = decodeURIComponent(String(h["grpc-message"] ?? ""));
        }
      };
      req.on("response", (h) => takeStatus(h as Record<string, unknown>));
      req.on("trailers", (h) => takeStatus(h as Record<string, unknown>));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.on("end", () => {
        clearTimeout(timer);
        if (status !== undefined && status !== 0) {
          reject(new GrpcError(status, message || `gRPC status ${status}`));
          return;
        }
        const body = Buffer.concat(chunks);
        if (body.length < 5) {
          reject(new Error("empty gRPC answer"));
          return;
        }
        try {
          resolve(Fields.decode(body.subarray(5, 5 + body.readUInt32BE(1))));
        } catch (err) {
          reject(err as Error);
        }
      });
      const frame = Buffer.alloc(5);
      frame.writeUInt32BE(request.length, 1);
      req.end(Buffer.concat([frame, request]));
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
