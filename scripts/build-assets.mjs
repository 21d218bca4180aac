// Copies the front-end files we serve into static/dist/ with a content hash in each
// name (so they can be cached for a year) and writes manifest.json: name -> hashed name.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "static", "dist");
const files = {
  "swagger-ui-bundle.js": "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
  "swagger-ui.css": "node_modules/swagger-ui-dist/swagger-ui.css",
  "redoc.standalone.js": "node_modules/redoc/bundles/redoc.standalone.js",
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const manifest = {};
for (const [name, source] of Object.entries(files)) {
  const path = join(root, source);
  const hash = createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 12);
  const ext = extname(name);
  const hashed = `${basename(name, ext)}.${hash}${ext}`;
  copyFileSync(path, join(dist, hashed));
  manifest[name] = hashed;
}
writeFileSync(join(dist, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`built ${Object.keys(manifest).length} files into static/dist/`);
