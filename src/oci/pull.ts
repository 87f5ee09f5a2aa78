/**
 * Pulls a Falco rulesfile artifact from an OCI registry the way falcoctl does: the manifest
 * (an OCI image manifest, or an index pointing at one), its config blob
 * (`application/vnd.cncf.falco.rulesfile.config.v1+json`: name, version, requirements) and its
 * layer (`application/vnd.cncf.falco.rulesfile.layer.v1+tar.gz`: the rules files). Every blob
 * is checked against the digest and size its descriptor gives, and a manifest against the
 * digest it was asked for (a `@sha256:` reference) or the one the registry names.
 *
 * Anonymous pulls from registries that ask for a bearer token (ghcr.io and most public ones)
 * fetch one from the realm the registry names. HTTP(S)_PROXY and NO_PROXY are honoured.
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { EnvHttpProxyAgent, request, type Dispatcher } from "undici";
import { PeregrineError, errorMessage } from "../errors.js";
import { readTar, TarFormatError, type TarFile } from "./tar.js";

export const RULESFILE_CONFIG_MEDIA_TYPE = "application/vnd.cncf.falco.rulesfile.config.v1+json";
export const RULESFILE_LAYER_MEDIA_TYPE = "application/vnd.cncf.falco.rulesfile.layer.v1+tar.gz";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Falco's stable rules are ~30 KiB compressed; anything near this is not a rules artifact. */
const MAX_BLOB_BYTES = 32 * 1024 * 1024;
const MAX_UNPACKED_BYTES = 64 * 1024 * 1024;

export interface OciReference {
  /** host[:port] */
  registry: string;
  repository: string;
  tag: string;
  digest?: string;
}

/** `host[:port]/path/name[:tag][@sha256:hex]`; the tag defaults to `latest`, as falcoctl's does. */
export function parseReference(text: string): OciReference {
  const bad = (why: string) => new PeregrineError("CLI_USAGE", `bad artifact reference "${text}": ${why}`, { field: "reference" });
  let rest = text.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(digest)) throw bad("the digest must be sha256:<64 hex digits>");
  }
  const slash = rest.indexOf("/");
  if (slash === -1) throw bad("it must name its registry, e.g. ghcr.io/falcosecurity/rules/falco-rules:5");
  const registry = rest.slice(0, slash);
  if (!(registry.includes(".") || registry.includes(":") || registry === "localhost"))
    throw bad(`"${registry}" is not a registry host; name one, e.g. ghcr.io/falcosecurity/rules/falco-rules:5`);
  let repository = rest.slice(slash + 1);
  let tag = "latest";
  const colon = repository.lastIndexOf(":");
  if (colon !== -1) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  }
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(repository)) throw bad(`"${repository}" is not a valid repository name`);
  return { registry, repository, tag, ...(digest ? { digest } : {}) };
}

export function formatReference(ref: OciReference): string {
  return `${ref.registry}/${ref.repository}${ref.digest ? `@${ref.digest}` : `:${ref.tag}`}`;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface RulesfileConfig {
  name?: string;
  version?: string;
  requirements?: { name: string; version: string }[];
}

export interface PulledRulesfile {
  reference: string;
  /** The digest of the manifest the files came from (what a pinned reference would name). */
  manifestDigest: string;
  layerDigest: string;
  config: RulesfileConfig;
  /** The regular files of the layer. */
  files: TarFile[];
}

export interface PullOptions {
  /** Talk HTTP instead of HTTPS (a registry on a trusted local network; falcoctl's --plain-http). */
  plainHttp?: boolean;
  /** Per request: connecting, and waiting for the answer's headers. */
  timeoutMs?: number;
  dispatcher?: Dispatcher;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_SOCKET",
]);

function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    // AggregateError (every address of a host refused)
    const inner = (e as { errors?: unknown[] }).errors?.[0];
    const innerCode = (inner as { code?: unknown } | undefined)?.code;
    if (typeof innerCode === "string" && NETWORK_CODES.has(innerCode)) return innerCode;
  }
  return undefined;
}

function digestOf(data: Buffer, algorithm: string): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

function checkDigest(data: Buffer, expected: string, what: string): void {
  const algorithm = expected.slice(0, expected.indexOf(":"));
  if (algorithm !== "sha256" && algorithm !== "sha512")
    throw new PeregrineError("RULES_UPDATE_NOT_RULESFILE", `${what} has digest ${expected}: only sha256 and sha512 digests are supported`);
  const actual = digestOf(data, algorithm);
  if (actual !== expected) throw new PeregrineError("RULES_UPDATE_DIGEST_MISMATCH", `${what} does not match its digest: expected ${expected}, got ${actual}`);
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One registry conversation: keeps the bearer token a registry handed out for the repository. */
class RegistryClient {
  private token: string | undefined;
  private readonly base: string;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;

  constructor(
    private readonly ref: OciReference,
    options: PullOptions,
  ) {
    this.base = `${options.plainHttp ? "http" : "https"}://${ref.registry}`;
    this.dispatcher = options.dispatcher ?? new EnvHttpProxyAgent();
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async get(path: string, accept: string, maxBytes: number): Promise<Answer> {
    let res = await this.fetch(`${this.base}${path}`, accept, maxBytes, true);
    if (res.status === 401 && this.token === undefined) {
      const challenge = header(res.headers, "www-authenticate");
      if (challenge && /^bearer\s/i.test(challenge)) {
        this.token = await this.fetchToken(challenge);
        res = await this.fetch(`${this.base}${path}`, accept, maxBytes, true);
      }
    }
    return res;
  }

  private async fetch(url: string, accept: string, maxBytes: number, withAuth: boolean): Promise<Answer> {
    // Registries send blobs from a storage service through redirects; the token is theirs alone.
    for (let hops = 0; ; hops++) {
      const headers: Record<string, string> = { accept, "user-agent": "peregrine-rules-update" };
      if (withAuth && this.token) headers.authorization = `Bearer ${this.token}`;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          headers,
          dispatcher: this.dispatcher,
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
          signal: AbortSignal.timeout(this.timeoutMs * 4),
        });
      } catch (err) {
        const code = networkCode(err) ?? (err as { name?: string }).name ?? "error";
        throw new PeregrineError("RULES_UPDATE_UNREACHABLE", `cannot reach the registry ${new URL(url).host} (${code}: ${errorMessage(err)}): check the network, or set HTTPS_PROXY`, { cause: err });
      }
      const location = header(res.headers, "location");
      if (res.statusCode >= 300 && res.statusCode < 400 && location && hops < 5) {
        await res.body.dump();
        const next = new URL(location, url);
        if (next.host !== new URL(url).host) withAuth = false;
        url = next.href;
        continue;
      }
      const body = await readLimited(res.body, maxBytes, url);
      return { status: res.statusCode, headers: res.headers, body };
    }
  }

  private async fetchToken(challenge: string): Promise<string> {
    const params = new Map<string, string>();
    for (const m of challenge.slice(challenge.indexOf(" ") + 1).matchAll(/(\w+)="([^"]*)"/g)) params.set(m[1]!.toLowerCase(), m[2]!);
    const realm = params.get("realm");
    if (!realm) throw new PeregrineError("RULES_UPDATE_REGISTRY_ERROR", `the registry ${this.ref.registry} asked for a token without naming where to get one`);
    const url = new URL(realm);
    if (params.has("service")) url.searchParams.set("service", params.get("service")!);
    url.searchParams.set("scope", params.get("scope") ?? `repository:${this.ref.repository}:pull`);
    const res = await this.fetch(url.href, "application/json", 1024 * 1024, false);
    if (res.status !== 200)
      throw new PeregrineError("RULES_UPDATE_REGISTRY_ERROR", `the registry's token service ${url.host} answered ${res.status}: anonymous pulls of ${this.ref.repository} are refused`);
    try {
      const json = JSON.parse(res.body.toString("utf8")) as { token?: string; access_token?: string };
      const token = json.token ?? json.access_token;
      if (typeof token === "string" && token) return token;
    } catch {
      // answered below
    }
    throw new PeregrineError("RULES_UPDATE_REGISTRY_ERROR", `the registry's token service ${url.host} answered without a token`);
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readLimited(body: Dispatcher.ResponseData["body"], maxBytes: number, url: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of body) {
      n += (chunk as Buffer).length;
      if (n > maxBytes) {
        body.destroy();
        throw new PeregrineError("RULES_UPDATE_NOT_RULESFILE", `${url} is larger than ${maxBytes} bytes: not a rules artifact`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof PeregrineError) throw err;
    throw new PeregrineError("RULES_UPDATE_UNREACHABLE", `the registry ${new URL(url).host} broke off an answer (${networkCode(err) ?? errorMessage(err)})`, { cause: err });
  }
  return Buffer.concat(chunks);
}

function httpError(what: string, ref: OciReference, res: Answer): PeregrineError {
  const hint =
    res.status === 404 ? "no such artifact or tag" : res.status === 401 || res.status === 403 ? "the registry refuses anonymous pulls of it" : "the registry failed";
  let detail = res.body.subarray(0, 300).toString("utf8").trim();
  try {
    const errors = (JSON.parse(res.body.toString("utf8")) as { errors?: { code?: string; message?: string }[] }).errors;
    if (errors?.length) detail = errors.map((e) => `${e.code ?? ""} ${e.message ?? ""}`.trim()).join("; ");
  } catch {
    // not the distribution spec's error body
  }
  return new PeregrineError("RULES_UPDATE_REGISTRY_ERROR", `${what} of ${formatReference(ref)}: HTTP ${res.status}, ${hint}${detail ? ` (${detail})` : ""}`);
}

function parseJson<T>(body: Buffer, what: string): T {
  try {
    return JSON.parse(body.toString("utf8")) as T;
  } catch {
    throw new PeregrineError("RULES_UPDATE_NOT_RULESFILE", `${what} is not JSON`);
  }
}

interface Manifest {
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

export async function pullRulesfile(ref: OciReference, options: PullOptions = {}): Promise<PulledRulesfile> {
  const client = new RegistryClient(ref, options);
  const repo = `/v2/${ref.repository}`;
  const accept = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", ");

  const getManifest = async (reference: string, expected: string | undefined): Promise<{ manifest: Manifest; digest: string }> => {
    const res = await client.get(`${repo}/manifests/${reference}`, accept, MAX_MANIFEST_BYTES);
    if (res.status !== 200) throw httpError("the manifest", ref, res);
    const named = expected ?? header(res.headers, "docker-content-digest");
    if (named) checkDigest(res.body, named, `the manifest of ${formatReference(ref)}`);
    return { manifest: parseJson<Manifest>(res.body, "the manifest"), digest: named ?? digestOf(res.body, "sha256") };
  };

  let { manifest, digest } = await getManifest(ref.digest ?? ref.tag, ref.digest);
  if (manifest.mediaType === OCI_INDEX || manifest.mediaType === DOCKER_LIST || Array.isArray(manifest.manifests)) {
    // An index: falcoctl's rulesfiles have no platform; take the rulesfile entry, else the first.
    const entries = manifest.manifests ?? [];
    const entry = entries.find((m) => m.artifactType === RULESFILE_CONFIG_MEDIA_TYPE) ?? entries[0];
    if (!entry) throw new PeregrineError("RULES_UPDATE_NOT_RULESFILE", `${formatReference(ref)} is an empty index`);
    ({ manifest, digest } = await getManifest(entry.digest, entry.digest));
  }

  const config = manifest.config;
  if (!config || config.mediaType !== RULESFILE_CONFIG_MEDIA_TYPE) {
    throw new PeregrineError(
      "RULES_UPDATE_NOT_RULESFILE",
      `${formatReference(ref)} is not a Falco rulesfile artifact: its config is ${config?.mediaType ?? "missing"}, expected ${RULESFILE_CONFIG_MEDIA_TYPE}`,
    );
  }
  const layer = manifest.layers?.find((l) => l.mediaType === RULESFILE_LAYER_MEDIA_TYPE);
  if (!layer) {
    const types = (manifest.layers ?? []).map((l) => l.mediaType).join(", ") || "none";
    throw new PeregrineError("RULES_UPDATE_NOT_RULESFILE", `${formatReference(ref)} has no ${RULESFILE_LAYER_MEDIA_TYPE} layer (layers: ${types})`);
  }

  const blob = async (d: Descriptor, what: string): Promise<Buffer> => {
    if (!Number.isInteger(d.size) || d.size < 0 || d.size > MAX_BLOB_BYTES)
      throw new PeregrineError("RULES_UPDATE_NOT_RULESFILE", `${what} declares ${d.size} bytes: not a rules artifact`);
    const res = await client.get(`${repo}/blobs/${d.digest}`, d.mediaType ?? "*/*", d.size + 1);
    if (res.status !== 200) throw httpError(what, ref, res);
    if (res.body.length !== d.size)
      throw new PeregrineError("RULES_UPDATE_DIGEST_MISMATCH", `${what} is ${res.body.length} bytes, its descriptor says ${d.size}`);
    checkDigest(res.body, d.digest, what);
    return res.body;
  };

  const configJson = parseJson<RulesfileConfig>(await blob(config, "the artifact's config"), "the artifact's config");
  const packed = await blob(layer, "the rules layer");
  let files: TarFile[];
  try {
    files = readTar(gunzipSync(packed, { maxOutputLength: MAX_UNPACKED_BYTES }));
  } catch (err) {
    const why = err instanceof TarFormatError ? err.message : `not gzip (${errorMessage(err)})`;
    throw new PeregrineError("RULES_UPDATE_NOT_RULESFILE", `the rules layer of ${formatReference(ref)} is not a tar.gz: ${why}`);
  }
  return { reference: formatReference(ref), manifestDigest: digest, layerDigest: layer.digest, config: configJson, files };
}
