// Builds the front end we serve ourselves (no CDN) into static/dist/:
//   app.css   Tailwind 4 + daisyUI 5, from static/src/app.css and the classes in templates/
//   htmx.js, alpine.js, swagger/redoc bundles: copied from node_modules (package-lock.json)
//   our scripts in static/js/
// Every file gets a content hash in its name (so it can be cached for a year) and
// manifest.json maps the logical name to the hashed one.
// `node scripts/build-assets.mjs --watch` rebuilds when a template, style or script changes.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, watch, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "static", "dist");
const vendor = {
  "htmx.js": "node_modules/htmx.org/dist/htmx.min.js",
  // The CSP build evaluates attribute expressions without eval/new Function, so the
  // Content-Security-Policy can forbid 'unsafe-eval'.
  "alpine.js": "node_modules/@alpinejs/csp/dist/cdn.min.js",
  "swagger-ui-bundle.js": "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
  "swagger-ui.css": "node_modules/swagger-ui-dist/swagger-ui.css",
  "redoc.standalone.js": "node_modules/redoc/bundles/redoc.standalone.js",
};

function tailwind() {
  const cli = join(root, "node_modules", "@tailwindcss", "cli", "dist", "index.mjs");
  const input = join(root, "static", "src", "app.css");
  return execFileSync(process.execPath, [cli, "-i", input, "--minify"], {
    cwd: root,
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 64 * 1024 * 1024,
  });
}

function build() {
  const contents = {};
  for (const [name, source] of Object.entries(vendor)) {
    contents[name] = readFileSync(join(root, source));
  }
  const scripts = join(root, "static", "js");
  for (const file of readdirSync(scripts).filter((f) => f.endsWith(".js"))) {
    contents[file] = readFileSync(join(scripts, file));
  }
  contents["app.css"] = tailwind();

  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  const manifest = {};
  for (const [name, body] of Object.entries(contents)) {
    const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
    const ext = extname(name);
    const hashed = `${basename(name, ext)}.${hash}${ext}`;
    writeFileSync(join(dist, hashed), body);
    manifest[name] = hashed;
  }
  // Written last: the app reloads it in debug when it changes.
  writeFileSync(join(dist, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  console.log(`built ${Object.keys(manifest).length} files into static/dist/`);
}

build();

if (process.argv.includes("--watch")) {
  let timer = null;
  const rebuild = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      try {
        build();
      } catch (error) {
        console.error(`build failed: ${error.message}`);
      }
    }, 150);
  };
  for (const dir of ["templates", "static/src", "static/js"]) {
    watch(join(root, dir), { recursive: true }, rebuild);
  }
  console.log("watching templates/, static/src/ and static/js/ (Ctrl-C to stop)");
}
