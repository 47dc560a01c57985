import { describe, expect, it } from 'vitest';
import { OUTPUT_TAIL_BYTES, runShellCommand } from './shell-command.js';

describe('runShellCommand', () => {
  it('gives the exit code and the output of a command', async () => {
    const result = await runShellCommand('echo stopping; echo oops >&2; exit 3', 10_000);
    expect(result).toMatchObject({ command: 'echo stopping; echo oops >&2; exit 3', exitCode: 3, isTimedOut: false });
    expect(result.output).toBe('stopping\noops\n');
  });

  it('kills a command past its timeout, with what it started', async () => {
    const result = await runShellCommand('sleep 30 & sleep 30', 200);
    expect(result).toMatchObject({ exitCode: null, isTimedOut: true });
    expect(result.ms).toBeLessThan(5_000);
  });

  it('returns when the shell exits, not when a server it left in the background does', async () => {
    const result = await runShellCommand(`${JSON.stringify(process.execPath)} -e "setTimeout(() => {}, 20000)" & echo $! ; exit 0`, 10_000);
    expect(result.exitCode).toBe(0);
    expect(result.ms).toBeLessThan(5_000);
    // The background process is ours to end (it is in the command's own process group).
    process.kill(Number(result.output.trim()), 'SIGKILL');
  });

  it('keeps only the tail of a long output', async () => {
    const result = await runShellCommand(`head -c ${OUTPUT_TAIL_BYTES * 3} /dev/zero | tr '\\0' x`, 10_000);
    expect(result.output).toHaveLength(OUTPUT_TAIL_BYTES);
  });
});
