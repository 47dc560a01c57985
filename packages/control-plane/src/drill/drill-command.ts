/**
 * `sluice-cp drill`: parses the flags, runs the drill, prints the report (text, or JSON with
 * `--json`; progress goes to stderr) and answers the exit code: 0 pass, 1 fail, 2 bad options.
 */
import { ConfigurationError } from '../errors.js';
import { DrillSetupError } from './drill-fixture.js';
import { DRILL_USAGE, parseDrillArgs, type DrillPlan } from './drill-plan.js';
import { formatReport } from './drill-report.js';
import { runDrill } from './run-drill.js';

/** Runs `sluice-cp drill <argv>`; resolves with the exit code. */
export async function drillCommand(argv: readonly string[]): Promise<number> {
  let plan: DrillPlan | 'help';
  try {
    plan = parseDrillArgs(argv);
  } catch (err) {
    if (!(err instanceof ConfigurationError)) throw err;
    process.stderr.write(`sluice-cp drill: ${err.message}\n\n${DRILL_USAGE}`);
    return 2;
  }
  if (plan === 'help') {
    process.stdout.write(DRILL_USAGE);
    return 0;
  }
  // The first Ctrl-C ends the drill cleanly (the part down is restored, the drill's entities
  // deleted, a report printed); a second one exits at once.
  const interrupt = new AbortController();
  const onSignal = () => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write('drill: interrupted; restoring what is down and cleaning up (Ctrl-C again to exit at once)\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const report = await runDrill(plan, { log: (line) => process.stderr.write(`drill: ${line}\n`), signal: interrupt.signal });
    process.stdout.write(plan.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return report.verdict === 'pass' ? 0 : 1;
  } catch (err) {
    if (!(err instanceof DrillSetupError)) throw err;
    process.stderr.write(`sluice-cp drill: ${err.message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
