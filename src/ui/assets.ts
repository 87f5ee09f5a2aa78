import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The page is one HTML document with its stylesheet and script inlined: a single request,
 * nothing to build. The page holds no data and is served without a token; with ingest auth
 * on it is opened as `/ui#token=…` and the script sends the token in a header on every call. The Content-Security-Policy allows exactly the inlined
 * script and style (by hash) and requests to this origin, nothing else.
 */
export interface PageAssets {
  html: string;
  csp: string;
}

const FILES = ["index.html", "style.css", "app.js"] as const;

/** Finds static/ beside this module, or in the source tree when running compiled from dist/. */
export function staticDir(here: string = import.meta.dirname): string {
  const candidates = [join(here, "static"), join(here, "../../../src/ui/static")];
  for (const dir of candidates) if (FILES.every((f) => existsSync(join(dir, f)))) return dir;
  throw new Error(`dashboard assets not found (looked in ${candidates.join(", ")})`);
}

export function loadPage(dir: string = staticDir()): PageAssets {
  const [html, css, js] = FILES.map((f) => readFileSync(join(dir, f), "utf8")) as [string, string, string];
  // A "</" inside the inlined code would end the element early.
  const safeJs = js.replace(/<\/(script)/gi, "<\\/$1");
  const safeCss = css.replace(/<\/(style)/gi, "<\\/$1");
  const page = html.replace("/*INLINE_STYLE*/", () => safeCss).replace("/*INLINE_SCRIPT*/", () => safeJs);
  const csp = [
    "default-src 'none'",
    `script-src '${sha256(safeJs)}'`,
    `style-src '${sha256(safeCss)}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html: page, csp };
}

function sha256(text: string): string {
  return `sha256-${createHash("sha256").update(text, "utf8").digest("base64")}`;
}
