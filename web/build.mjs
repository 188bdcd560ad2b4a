// Rebuilds the browser bundles from src/ with the locked dependencies, byte for byte the same
// on any machine: `npm ci && node build.mjs`. Each src/<name>.entry.js becomes
// ../templates/static/<name>.js, one self-contained script (no imports, no network, no eval).
// `node build.mjs --check` builds in memory and exits 1 if a committed bundle differs or is
// missing, or if a committed bundle has no entry any more (tests/test_web_bundle.py runs it).
import { build } from "esbuild";
import { readdir, readFile, writeFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "templates", "static");
const check = process.argv.includes("--check");

const entries = (await readdir(join(here, "src"))).filter((name) => name.endsWith(".entry.js")).sort();
if (entries.length === 0) {
  console.error(`no entry in ${join(here, "src")}: expected files named <name>.entry.js`);
  process.exit(2);
}
await mkdir(out, { recursive: true });
let differ = [];
for (const entry of entries) {
  const name = entry.replace(/\.entry\.js$/, "");
  const result = await build({
    entryPoints: [join(here, "src", entry)],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: ["es2020", "chrome100", "firefox100", "safari15"],
    minify: true,
    legalComments: "eof",
    charset: "utf8",
    sourcemap: false,
    absWorkingDir: here,
    logLevel: "warning",
  });
  const code = result.outputFiles[0].contents;
  const target = join(out, `${name}.js`);
  if (check) {
    const committed = await readFile(target).catch(() => null);
    if (committed === null || Buffer.compare(Buffer.from(code), committed) !== 0) differ.push(`${name}.js`);
  } else {
    await writeFile(target, code);
    console.log(`${name}.js  ${code.length} bytes`);
  }
}
if (check) {
  const built = new Set(entries.map((entry) => entry.replace(/\.entry\.js$/, ".js")));
  const stray = (await readdir(out)).filter((name) => name.endsWith(".js") && !built.has(name));
  if (differ.length || stray.length) {
    if (differ.length) console.error(`differs from a fresh build (run: cd web && npm ci && node build.mjs): ${differ.join(", ")}`);
    if (stray.length) console.error(`committed without an entry in web/src: ${stray.join(", ")}`);
    process.exit(1);
  }
  console.log(`${entries.length} bundles match a fresh build`);
}
