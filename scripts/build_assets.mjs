#!/usr/bin/env node
// Build MentorHub's front-end assets into static/vendor/ (committed to git).
//
//   npm ci && npm run build          (what `make assets` runs)
//   node scripts/build_assets.mjs --check
//       builds into a temporary folder and exits 1 if static/vendor/ differs
//       (stale or hand-edited build output); writes nothing.
//
// Output (every file name carries a content hash, so the app can serve them
// with a long cache lifetime):
//   static/vendor/carbon.<hash>.css          Carbon v11 subset + IBM Plex @font-face, minified
//   static/vendor/fonts/<name>.<hash>.woff2  IBM Plex Sans/Mono, Latin1 subset
//   static/vendor/htmx.<hash>.min.js         htmx.org dist/htmx.min.js
//   static/vendor/chart.<hash>.umd.min.js    chart.js dist/chart.umd.min.js
//   static/vendor/licenses/*                 third-party licence texts
//   static/vendor/manifest.json              logical name -> path relative to static/
//                                            (fonts as fonts/<name>.woff2)
//
// The build is deterministic (same inputs, same bytes): no timestamps, no
// source maps, sorted JSON. static/vendor/ is rebuilt from scratch each time,
// so old hashed files disappear.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as sass from 'sass';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NODE_MODULES = path.join(ROOT, 'node_modules');
const STATIC = path.join(ROOT, 'static');
const VENDOR = path.join(STATIC, 'vendor');
const SCSS_ENTRY = path.join(ROOT, 'assets', 'scss', 'carbon.scss');

// Selectors that must exist in the compiled CSS; the build fails otherwise
// (catches a component dropped from carbon.scss or renamed upstream).
const REQUIRED_SELECTORS = [
  '.cds--header',
  '.cds--header__menu',
  '.cds--side-nav',
  '.cds--btn--primary',
  '.cds--text-input',
  '.cds--inline-notification',
  '.cds--toast-notification',
  '.cds--tag--blue',
  '.cds--data-table',
  '.cds--tile',
  '.cds--tabs',
  '.cds--breadcrumb',
  '.cds--progress-step',
  '.cds--skeleton__text',
  '.cds--white',
  '.cds--g10',
  '.cds--g100',
  '.cds--css-grid',
];

const LICENSES = [
  ['@carbon/styles/LICENSE', 'carbon-styles.LICENSE.txt'],
  ['@ibm/plex-sans/LICENSE.txt', 'ibm-plex-sans.LICENSE.txt'],
  ['@ibm/plex-mono/LICENSE.txt', 'ibm-plex-mono.LICENSE.txt'],
  ['htmx.org/LICENSE', 'htmx.LICENSE.txt'],
  ['chart.js/LICENSE.md', 'chart.js.LICENSE.txt'],
];

const HASH_LENGTH = 8;

function contentHash(data) {
  return createHash('sha256').update(data).digest('hex').slice(0, HASH_LENGTH);
}

function fail(message) {
  console.error(`build_assets: ${message}`);
  process.exit(1);
}

function pkgVersion(name) {
  const file = path.join(NODE_MODULES, name, 'package.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

function readModule(relPath) {
  const file = path.join(NODE_MODULES, relPath);
  if (!fs.existsSync(file)) {
    fail(`missing ${path.relative(ROOT, file)} (run \`npm ci\` first)`);
  }
  return fs.readFileSync(file);
}

/** Write `data` as <dir>/<stem>.<hash><ext>; return the name relative to outDir. */
function writeHashed(outDir, subdir, stem, ext, data) {
  const name = path.posix.join(subdir, `${stem}.${contentHash(data)}${ext}`);
  const file = path.join(outDir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  return name;
}

function buildCss(outDir) {
  const fonts = new Map(); // source path -> output name (relative to outDir)

  // Sass function used by assets/scss/_fonts.scss.
  const vendorFont = (args) => {
    const source = args[0].assertString('path').text;
    if (!source.endsWith('.woff2')) {
      throw new Error(`vendor-font(): only woff2 is shipped, got ${source}`);
    }
    if (source.includes('..') || path.isAbsolute(source)) {
      throw new Error(`vendor-font(): expected a path under node_modules, got ${source}`);
    }
    if (!fonts.has(source)) {
      const data = readModule(source);
      const stem = path.basename(source, '.woff2');
      fonts.set(source, writeHashed(outDir, 'fonts', stem, '.woff2', data));
    }
    // The CSS lands in outDir itself, so the font path is relative to it.
    return new sass.SassString(`url("${fonts.get(source)}")`, { quotes: false });
  };

  const warnings = [];
  const result = sass.compile(SCSS_ENTRY, {
    style: 'compressed',
    sourceMap: false,
    charset: false,
    loadPaths: [NODE_MODULES],
    functions: { 'vendor-font($path)': vendorFont },
    // Deprecation warnings from inside @carbon/styles are not ours to fix:
    // silence warnings from dependencies (loaded through loadPaths) but keep
    // every warning raised by our own files in assets/scss/.
    quietDeps: true,
    logger: {
      warn(message, { deprecation, deprecationType, span }) {
        const where = span?.url ? ` (${fileURLToPath(span.url)}:${span.start.line + 1})` : '';
        const kind = deprecation ? `deprecation ${deprecationType?.id ?? ''}` : 'warning';
        warnings.push(`${kind}: ${message}${where}`);
      },
      debug() {},
    },
  });
  for (const w of warnings) console.warn(`sass ${w}`);

  const css = result.css.endsWith('\n') ? result.css : `${result.css}\n`;

  // Guards: no remote URL of any kind, every required selector present,
  // every url() points at a file we wrote.
  const remote = css.match(/https?:\/\/[^\s"')]*/gi);
  if (remote) fail(`compiled CSS references remote URLs: ${[...new Set(remote)].join(', ')}`);
  for (const selector of REQUIRED_SELECTORS) {
    const escaped = selector.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (!new RegExp(`${escaped}(?![\\w-])`).test(css)) {
      fail(`compiled CSS lacks ${selector}`);
    }
  }
  for (const [, ref] of css.matchAll(/url\(\s*["']?([^"')]+)["']?\s*\)/g)) {
    if (ref.startsWith('data:')) continue;
    if (!fs.existsSync(path.join(outDir, ref))) fail(`compiled CSS references missing file ${ref}`);
  }

  return { name: writeHashed(outDir, '', 'carbon', '.css', css), fonts: [...fonts.values()] };
}

function buildJs(outDir) {
  const htmx = readModule('htmx.org/dist/htmx.min.js');
  // chart.umd.min.js ends with a sourceMappingURL comment; we do not ship the
  // map, so drop it (otherwise devtools request a file that 404s).
  const chart = Buffer.from(
    readModule('chart.js/dist/chart.umd.min.js')
      .toString('utf8')
      .replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n'),
    'utf8',
  );
  return {
    htmx: writeHashed(outDir, '', 'htmx', '.min.js', htmx),
    chart: writeHashed(outDir, '', 'chart', '.umd.min.js', chart),
  };
}

function copyLicenses(outDir) {
  for (const [source, target] of LICENSES) {
    const file = path.join(outDir, 'licenses', target);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, readModule(source));
  }
}

function build(outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  const css = buildCss(outDir);
  const js = buildJs(outDir);
  copyLicenses(outDir);

  // Paths relative to static/ (what Flask's url_for('static', filename=...) takes).
  const manifest = {
    'carbon.css': `vendor/${css.name}`,
    'htmx.js': `vendor/${js.htmx}`,
    'chart.js': `vendor/${js.chart}`,
  };
  // Fonts by their unhashed name (fonts/IBMPlexSans-Regular-Latin1.woff2), for the
  // <link rel="preload"> in templates/base.html.
  for (const font of [...css.fonts].sort()) {
    manifest[font.replace(/\.[0-9a-f]{8}\.woff2$/, '.woff2')] = `vendor/${font}`;
  }
  fs.writeFileSync(path.join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, fonts: css.fonts };
}

function listFiles(dir, base = dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? listFiles(full, base) : [path.relative(base, full)];
    })
    .sort();
}

function sameTree(a, b) {
  const filesA = listFiles(a);
  const filesB = listFiles(b);
  const diff = [
    ...filesA.filter((f) => !filesB.includes(f)),
    ...filesB.filter((f) => !filesA.includes(f)),
    ...filesA.filter(
      (f) => filesB.includes(f) && !fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))),
    ),
  ];
  return [...new Set(diff)].sort();
}

function formatSize(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function main() {
  const check = process.argv.includes('--check');
  if (!check) fs.mkdirSync(STATIC, { recursive: true });
  const staging = fs.mkdtempSync(path.join(check ? os.tmpdir() : STATIC, '.vendor-build-'));
  try {
    const outDir = path.join(staging, 'vendor');
    const { manifest, fonts } = build(outDir);

    if (check) {
      const diff = sameTree(outDir, VENDOR);
      if (diff.length) {
        console.error('build_assets --check: static/vendor is out of date:');
        for (const f of diff) console.error(`  ${f}`);
        console.error('run `make assets` (npm ci && npm run build) and commit static/vendor.');
        process.exit(1);
      }
      console.log('build_assets --check: static/vendor is up to date.');
      return;
    }

    // Swap the fresh tree in; this also removes every stale hashed file.
    fs.rmSync(VENDOR, { recursive: true, force: true });
    fs.renameSync(outDir, VENDOR);

    const versions = ['@carbon/styles', 'sass', '@ibm/plex-sans', '@ibm/plex-mono', 'htmx.org', 'chart.js']
      .map((name) => `${name}@${pkgVersion(name)}`)
      .join(', ');
    console.log(`build_assets: ${versions}`);
    for (const rel of [...Object.values(manifest), ...fonts.map((f) => `vendor/${f}`)]) {
      console.log(`  static/${rel}  ${formatSize(fs.statSync(path.join(STATIC, rel)).size)}`);
    }
    console.log('  static/vendor/manifest.json');
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

main();
