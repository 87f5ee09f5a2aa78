/**
 * Reads the regular files of a tar archive (POSIX ustar, with pax and GNU long-name records),
 * the format of a falcoctl artifact's layer. Only what reading a rules layer needs: no links,
 * no devices, nothing written to disk here.
 */
import { PeregrineError } from "../errors.js";

export interface TarFile {
  /** The path inside the archive, as written (may contain directories). */
  path: string;
  data: Buffer;
}

/** The layer is not a tar archive this reader takes: the artifact is not a rules file. */
export class TarFormatError extends PeregrineError {
  constructor(message: string) {
    super("RULES_UPDATE_NOT_RULESFILE", message);
    this.name = "TarFormatError";
  }
}

const BLOCK = 512;

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString("utf8");
}

/** Octal number fields; GNU's base-256 form (high bit set) for sizes beyond 8 GiB. */
function numberField(header: Buffer, start: number, length: number): number {
  if (header[start]! & 0x80) {
    let n = 0;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + header[i]!;
    return n;
  }
  const text = field(header, start, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad number field "${text}" in a tar header`);
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === numberField(header, 148, 8);
}

/** pax extended header records: "<len> key=value\n". */
function paxPath(data: Buffer): string | undefined {
  let at = 0;
  let path: string | undefined;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const len = Number(data.subarray(at, space).toString("ascii"));
    if (!Number.isInteger(len) || len <= 0) throw new TarFormatError("bad pax record in a tar archive");
    const record = data.subarray(space + 1, at + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (record.slice(0, eq) === "path") path = record.slice(eq + 1);
    at += len;
  }
  return path;
}

export function readTar(archive: Buffer): TarFile[] {
  const files: TarFile[] = [];
  let at = 0;
  let longName: string | undefined;
  while (at + BLOCK <= archive.length) {
    const header = archive.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) break; // end of archive
    if (!checksumOk(header)) throw new TarFormatError(`bad tar header checksum at offset ${at}`);
    const size = numberField(header, 124, 12);
    const type = String.fromCharCode(header[156]!);
    const dataStart = at + BLOCK;
    if (dataStart + size > archive.length) throw new TarFormatError("the tar archive ends inside a file");
    const data = archive.subarray(dataStart, dataStart + size);
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x") {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (type === "L") {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === "g") continue;
    const prefix = field(header, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    if (type === "0" || type === "\0" || type === "7") files.push({ path: name, data: Buffer.from(data) });
  }
  return files;
}
