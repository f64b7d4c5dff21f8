import { it } from 'vitest';
import * as fs from 'node:fs';
import { runGdb, startSim } from './harness.js';
it('scratch', async () => {
  const srv = await startSim({ cpus: 4 });
  const run = await runGdb({ timeoutMs: 10000, remote: srv.remote, commands: ['info threads', 'thread 6', 'p $pc', 'echo UNTIL\\n', 'until', 'echo DONE\\n', 'detach'] }).catch(e => ({ stdout: String(e), stderr: '' }));
  fs.writeFileSync('/tmp/scratch.out', run.stdout + '\n=====\n' + run.stderr);
  await srv.close();
});
