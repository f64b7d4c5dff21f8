// `npm start` / `npm test` / `npm run bench` on a fresh clone: install the
// dependencies if they are missing and (re)build dist/ if any source is newer.
// Output goes to stderr so that nothing pollutes a protocol channel.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    console.error(`ensure-built: ${cmd} ${args.join(' ')} failed`);
    process.exit(r.status ?? 1);
  }
};

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const lock = join(root, 'package-lock.json');
const stamp = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(join(root, 'node_modules', '.bin', 'tsc')) || (existsSync(lock) && existsSync(stamp) && statSync(lock).mtimeMs > statSync(stamp).mtimeMs + 1000)) {
  console.error('ensure-built: installing dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}
const out = join(root, 'dist', 'cli.js');
const srcTime = Math.max(newest(join(root, 'src')), statSync(join(root, 'tsconfig.json')).mtimeMs);
if (!existsSync(out) || statSync(out).mtimeMs < srcTime) {
  console.error('ensure-built: building (tsc)');
  run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json']);
}
