// Dawn's adapter lists print two lines on Mesa lavapipe ("Warning: maxDynamicUniformBuffersPerPipelineLayout
// artificially reduced from 1000000 to 16 …", the same for storage buffers) for every GPU instance, from native
// code straight to the process's stderr. They come from enumerating the adapter, before any limit is requested,
// so no limit or Dawn toggle avoids them, and no JavaScript sees them. The `gelan` command therefore runs in a
// child process whose stderr this parent relays line by line without those two lines; stdin and stdout are the
// terminal's own, so progress bars and prompts are unchanged.
import { spawn } from 'node:child_process';

const DAWN_LIMIT_NOTE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const PREFIX = 'Warning: maxDynamic';
const CHILD = 'GELAN_CLI_RELAYED';

/** Whether a line of stderr is one of Dawn's limit notes. */
export const isDawnLimitNote = (line: string): boolean => DAWN_LIMIT_NOTE.test(line);

/**
 * In the process the user started: run the same command line in a child, relay its stderr without Dawn's limit
 * notes, exit as it exits, and return false. In that child (or with GELAN_CLI_RELAYED set, or for help and
 * version): return true.
 */
export function isCommandProcess(): boolean {
  if (process.env[CHILD]) return true;
  // help and version open no device: no child needed
  const args = process.argv.slice(2);
  if (args.length === 0 || args[0] === 'help' || args.some((a) => ['-h', '--help', '-V', '--version'].includes(a))) return true;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, [CHILD]: '1' },
  });
  let pending = '';
  const relay = (text: string, final: boolean): void => {
    const lines = (pending + text).split('\n');
    pending = lines.pop()!;
    let out = lines.filter((l) => !isDawnLimitNote(l)).map((l) => `${l}\n`).join('');
    // an unfinished line goes out now (a prompt, a progress line) unless it may still become a Dawn note
    if (pending && (final || !(PREFIX.startsWith(pending) || pending.startsWith(PREFIX)))) {
      if (!isDawnLimitNote(pending)) out += pending;
      pending = '';
    }
    if (out) process.stderr.write(out);
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => relay(chunk, false));
  // Ctrl-C reaches the child too (same process group); other signals sent to this process are passed on
  const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`gelan: could not start the command process: ${e.message}\n`);
    process.exitCode = 1;
  });
  child.on('close', (code, signal) => {
    if (pending) relay('', true);
    for (const s of signals) process.off(s, forward);
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
  return false;
}
