/**
 * Runs an operator's stop or start command (`--cp-stop-cmd "systemctl stop sluice-cp"`) through
 * the shell, bounded in time: past the timeout its whole process group is killed. Its output is
 * kept (the last {@link OUTPUT_TAIL_BYTES}) for the report.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Output of a command kept for the report, in bytes (default 4 KiB, the tail). */
export const OUTPUT_TAIL_BYTES = 4 * 1024;

/** How a command ended. */
export interface CommandResult {
  readonly command: string;
  /** The exit code; null when it was killed (timeout) or could not start. */
  readonly exitCode: number | null;
  readonly ms: number;
  readonly isTimedOut: boolean;
  /** The tail of its stdout and stderr. */
  readonly output: string;
}

/**
 * Runs `command` with `sh -c` in its own process group and resolves when the shell exits (or was
 * killed at `timeoutMs`). Output goes to a temporary file, not a pipe: a start command that leaves
 * a server running in the background (`sluice-cp … &`) must not be tied to the drill's pipes, nor
 * get SIGPIPE once the drill is gone.
 */
export function runShellCommand(command: string, timeoutMs: number): Promise<CommandResult> {
  const startedAt = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-drill-'));
  const file = join(dir, 'output');
  const fd = openSync(file, 'w');
  return new Promise((resolve) => {
    let isTimedOut = false;
    const child = spawn(command, { shell: true, detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const timer = setTimeout(() => {
      isTimedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    let isDone = false;
    const done = (exitCode: number | null, extra = '') => {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      let output = extra;
      try {
        output = readFileSync(file, 'utf8').slice(-OUTPUT_TAIL_BYTES) + extra;
      } catch {
        // Nothing written.
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ command, exitCode: isTimedOut ? null : exitCode, ms: Math.round(performance.now() - startedAt), isTimedOut, output });
    };
    child.once('error', (err) => done(null, err.message));
    child.once('exit', (code) => done(code));
  });
}
