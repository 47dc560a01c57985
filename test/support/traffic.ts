import { http } from './processes.js';

/**
 * Steady proxied traffic for end-to-end tests: one request loop per URL, a request every
 * `intervalMs`, every answer that is not `expectStatus` (or no answer) recorded as a failure.
 */
export class TrafficLoop {
  served = 0;
  readonly failures: string[] = [];
  private isRunning = true;
  private readonly loops: Promise<void>[];

  constructor(urls: readonly string[], intervalMs = 20, expectStatus = 200) {
    this.loops = urls.map(async (url) => {
      while (this.isRunning) {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
          await res.arrayBuffer();
          if (res.status === expectStatus) this.served++;
          else this.failures.push(`${url}: HTTP ${res.status}`);
        } catch (err) {
          this.failures.push(`${url}: ${(err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    });
  }

  async stop(): Promise<void> {
    this.isRunning = false;
    await Promise.all(this.loops);
  }
}

/** One read of a data plane's `/status`: its config version and the control plane it is connected to. */
export interface StatusSample {
  readonly epoch: string | null;
  readonly version: number | null;
  readonly url: string | null;
  readonly state: string | null;
  readonly instanceId: string | null;
}

/**
 * Polls a data plane's `/status` every `intervalMs` for the whole test and keeps every version
 * that went down within an epoch (`regressions`; the monotonic property says there are none).
 */
export class StatusWatch {
  readonly samples: StatusSample[] = [];
  readonly regressions: string[] = [];
  private isRunning = true;
  private readonly loop: Promise<void>;

  constructor(statusUrl: string, intervalMs = 50) {
    this.loop = (async () => {
      while (this.isRunning) {
        try {
          const s = (await http('GET', `${statusUrl}/status`)).body;
          const sample = { epoch: s.epoch, version: s.version, url: s.control_plane?.url ?? null, state: s.control_plane?.state ?? null, instanceId: s.control_plane?.instance_id ?? null };
          const last = this.samples[this.samples.length - 1];
          if (last && last.epoch === sample.epoch && last.version !== null && (sample.version === null || sample.version < last.version)) this.regressions.push(`${last.version} -> ${sample.version}`);
          this.samples.push(sample);
        } catch {
          // A status read that failed is not a sample.
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
  }

  /** The latest sample. */
  get last(): StatusSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  async stop(): Promise<void> {
    this.isRunning = false;
    await this.loop;
  }
}
