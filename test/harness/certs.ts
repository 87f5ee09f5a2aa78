/**
 * A throw-away certificate authority for the harness: a server certificate for 127.0.0.1 /
 * localhost and a client certificate (for mTLS), PEM files made with openssl, once.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cachePath } from "./paths.js";
import { note, run } from "./proc.js";

export const CERT_DIR = cachePath("certs");

export const certs = {
  caCert: join(CERT_DIR, "ca.pem"),
  serverCert: join(CERT_DIR, "server.pem"),
  serverKey: join(CERT_DIR, "server-key.pem"),
  /** Key then certificate in one file, the layout Kafka's PEM keystore wants. */
  serverKeystore: join(CERT_DIR, "server-keystore.pem"),
  clientCert: join(CERT_DIR, "client.pem"),
  clientKey: join(CERT_DIR, "client-key.pem"),
} as const;

export function ensureCerts(): void {
  if (Object.values(certs).every((f) => existsSync(f))) return;
  note("generating a test CA, a server and a client certificate");
  mkdirSync(CERT_DIR, { recursive: true });
  const caKey = join(CERT_DIR, "ca-key.pem");
  const days = "3650";
  run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", certs.caCert,
    "-days", days, "-subj", "/CN=Peregrine test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  issue("server", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n", certs.serverKey, certs.serverCert);
  issue("client", "/CN=peregrine-client", "extendedKeyUsage=clientAuth\n", certs.clientKey, certs.clientCert);
  const key = run("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", certs.serverKey]);
  const cert = run("openssl", ["x509", "-in", certs.serverCert]);
  writeFileSync(certs.serverKeystore, key + cert);

  function issue(name: string, subject: string, ext: string, keyOut: string, certOut: string): void {
    const csr = join(CERT_DIR, `${name}.csr`);
    const extFile = join(CERT_DIR, `${name}.ext`);
    writeFileSync(extFile, ext);
    run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", keyOut, "-out", csr, "-subj", subject]);
    run("openssl", ["x509", "-req", "-in", csr, "-CA", certs.caCert, "-CAkey", caKey, "-CAcreateserial",
      "-out", certOut, "-days", days, "-extfile", extFile]);
  }
}
