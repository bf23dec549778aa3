// Minify src/snippet.js into the file the Python package ships (or into the path given as the
// first argument: the test suite builds into a temp file and compares), and print the sizes
// that docs/benchmarks.md records.
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

const src = readFileSync(new URL('./src/snippet.js', import.meta.url), 'utf8');
const out = process.argv[2] || new URL('../../tracker/web/static/snippet.js', import.meta.url);
const { code } = await minify(src, {
  ecma: 2017,
  compress: { passes: 2 },
  mangle: true,
  format: { comments: false },
});
writeFileSync(out, code + '\n');
const gz = gzipSync(code + '\n', { level: 9 }).length;
console.log(`snippet: raw ${Buffer.byteLength(src)} B, minified ${Buffer.byteLength(code) + 1} B, gzip -9 ${gz} B (budget 2048 B)`);
if (gz > 2048) {
  console.error('snippet is over its 2 KiB gzipped budget');
  process.exit(1);
}
