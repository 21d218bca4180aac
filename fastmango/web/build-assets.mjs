// Builds a fastmango project's front end, served by the app itself (no CDN), into
// static/dist/ of the project in the current directory:
//   app.css   Tailwind 4 + daisyUI 5, from static/src/app.css and the classes in templates/
//   htmx.js, alpine.js, swagger/redoc bundles: copied from node_modules (package-lock.json)
//   fastmango's scripts (fastmango/web/static/js/), then the project's (static/js/)
// Every file gets a content hash in its name (so it can be cached for a year) and
// manifest.json maps the logical name to the hashed one.
// `node <fastmango>/web/build-assets.mjs --watch` (`make assets-watch`) rebuilds when a
// template, style or script changes.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, watch, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";

const root = process.cwd();
// This file sits in fastmango/web/: the framework's scripts and templates are beside it.
const web = new URL(".", import.meta.url).pathname;
const framework = join(web, "..");
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
  // The project's static/src/app.css, plus fastmango's own templates as a class source
  // (wherever the framework is installed), written beside it so its paths still resolve.
  const css = readFileSync(join(root, "static", "src", "app.css"), "utf8");
  const base = readFileSync(join(web, "static", "css", "fastmango.css"), "utf8");
  const input = join(root, "static", "src", ".build.css");
  writeFileSync(input, `${css}\n@source "${framework}";\n${base}`);
  try {
    return execFileSync(process.execPath, [cli, "-i", input, "--minify"], {
      cwd: root,
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 64 * 1024 * 1024,
    });
  } finally {
    rmSync(input, { force: true });
  }
}

function build() {
  const contents = {};
  for (const [name, source] of Object.entries(vendor)) {
    contents[name] = readFileSync(join(root, source));
  }
  // The framework's scripts (theme, htmx setup, base components), then the project's.
  for (const scripts of [join(web, "static", "js"), join(root, "static", "js")]) {
    for (const file of readdirSync(scripts).filter((f) => f.endsWith(".js"))) {
      contents[file] = readFileSync(join(scripts, file));
    }
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
  for (const dir of [join(root, "templates"), framework, join(root, "static", "src"), join(root, "static", "js")]) {
    watch(dir, { recursive: true }, rebuild);
  }
  console.log("watching templates/, static/src/, static/js/ and fastmango's files (Ctrl-C to stop)");
}
