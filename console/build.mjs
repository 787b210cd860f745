// Builds the console into OUTDIR (default ../build/console): one ES module
// bundle per entry and a chunk per lazily loaded view, every name carrying
// its content hash (served as immutable), and index.html naming them
// (served no-cache). Prints each file's size and the compressed total.
import * as esbuild from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join, basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, '..', 'build', 'console');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: join(here, 'src', 'main.js') },
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: true,
  target: ['chrome110', 'firefox115', 'safari16'],
  outdir: out,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

let js, css;
for (const [file, info] of Object.entries(result.metafile.outputs)) {
  if (info.entryPoint?.endsWith('src/main.js') && file.endsWith('.js')) js = basename(file);
  if (file.endsWith('.css')) css = basename(file);
}
const html = readFileSync(join(here, 'src', 'index.html'), 'utf8')
  .replace('%JS%', js).replace('%CSS%', css);
writeFileSync(join(out, 'index.html'), html);

let raw = 0, gz = 0;
for (const f of readdirSync(out).sort()) {
  const b = readFileSync(join(out, f));
  const z = gzipSync(b, { level: 9 }).length;
  raw += b.length;
  gz += z;
  console.log(`  ${f.padEnd(28)} ${String(b.length).padStart(8)} B  ${String(z).padStart(7)} B gzip`);
}
console.log(`  console: ${raw} B, ${gz} B gzip (limit 1048576 B)`);
writeFileSync(join(out, 'size.txt'), `${raw} ${gz}\n`);
