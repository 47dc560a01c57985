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
  try {
    const report = await runDrill(plan, { log: (line) => process.stderr.write(`drill: ${line}\n`) });
    process.stdout.write(plan.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return report.verdict === 'pass' ? 0 : 1;
  } catch (err) {
    if (!(err instanceof DrillSetupError)) throw err;
    process.stderr.write(`sluice-cp drill: ${err.message}\n`);
    return 1;
  }
}
