// Builds ../static/ (committed and shipped in the Python package, so a server never fetches
// anything from a CDN): Chart.js copied from node_modules with its license, and the
// dashboard's own script and stylesheet bundled and minified by esbuild.
// Run: cd tracker/dashboard/assets && npm ci && npm run build
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const out = new URL("../static/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });

const chart = new URL("./node_modules/chart.js/", import.meta.url).pathname;
const version = JSON.parse(readFileSync(chart + "package.json", "utf8")).version;
copyFileSync(chart + "dist/chart.umd.min.js", out + "chart.umd.min.js");
copyFileSync(chart + "LICENSE.md", out + "chart.js-LICENSE.txt");

await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2019",
  legalComments: "none",
  outfile: out + "dashboard.min.js",
});
await build({ entryPoints: ["src/dashboard.css"], bundle: true, minify: true, outfile: out + "dashboard.min.css" });
writeFileSync(out + "versions.json", JSON.stringify({ "chart.js": version }, null, 2) + "\n");
console.log(`built ${out} (chart.js ${version})`);
