import { type DataPlaneRecord, incompatibilityView } from './data-plane-record.js';

/** Where a data plane of a wait stands against its version. */
type MemberStatus = 'done' | 'pending' | 'rejected' | 'incompatible';

/** The data plane of a wait as the answer lists it. */
export interface PropagationMemberView {
  id: string;
  hostname: string;
  config_version: number;
  connected: boolean;
}

export interface PropagationWaitOptions {
  /** The version waited for. */
  version: number;
  /** Least number of data planes that must have applied it (or rejected it) for the wait to answer. */
  minDataPlanes: number;
  /** The head's epoch now (a version only counts within it). */
  epoch: () => string;
  /** Whether a record's data plane is connected now (`DataPlaneRegistry.isConnected`). */
  isConnected: (record: DataPlaneRecord, now: number) => boolean;
}

/**
 * One wait for a config version to reach a fixed set of data planes: every one connected (and
 * compatible) when first seen, plus any that connects while it waits; one that leaves before
 * applying the version stays pending. Each record seen ({@link observe}) costs O(1): the wait
 * keeps its counts as records arrive (an Ack of a local data plane, a row of another replica's),
 * so a version's Acks from N data planes cost O(N) in all, not a re-read of the fleet per Ack.
 */
export class PropagationWait {
  private readonly options: PropagationWaitOptions;
  private readonly members = new Map<string, { record: DataPlaneRecord; status: MemberStatus }>();
  private readonly counts: Record<MemberStatus, number> = { done: 0, pending: 0, rejected: 0, incompatible: 0 };
  private epoch: string;

  constructor(options: PropagationWaitOptions) {
    this.options = options;
    this.epoch = options.epoch();
  }

  /** Takes a data plane's latest record: it joins the wait if it is connected and compatible, else it updates a member. */
  observe(record: DataPlaneRecord, now = Date.now()): void {
    const member = this.members.get(record.id);
    if (member === undefined) {
      if (record.incompatible || !this.options.isConnected(record, now)) return;
      const status = this.statusOf(record);
      this.members.set(record.id, { record, status });
      this.counts[status]++;
      return;
    }
    const status = this.statusOf(record);
    this.counts[member.status]--;
    this.counts[status]++;
    member.record = record;
    member.status = status;
  }

  /** Marks a member gone from its replica's connected rows: it stays pending (if it is), listed disconnected. */
  observeGone(id: string): void {
    const member = this.members.get(id);
    if (member && member.record.connected) this.observe({ ...member.record, connected: false });
  }

  /** The ids of the members whose latest record comes from another replica than `cpInstanceId`. */
  *membersElsewhere(cpInstanceId: string): IterableIterator<string> {
    for (const [id, m] of this.members) if (m.record.cpInstanceId !== cpInstanceId) yield id;
  }

  /** Reclassifies every member when the head's epoch changed (a version only counts within its epoch); O(members), once per poll. */
  refresh(): void {
    const epoch = this.options.epoch();
    if (epoch === this.epoch) return;
    this.epoch = epoch;
    for (const member of this.members.values()) this.observe(member.record);
  }

  /**
   * Whether the wait can answer: no member pending and enough have applied (or refused) the
   * version. A data plane the version is withheld from (it lacks a plugin the config uses) counts
   * as answered, not applied: it will not get the version until it has the plugin.
   */
  get isAnswered(): boolean {
    return this.counts.pending === 0 && this.counts.done + this.counts.rejected + this.counts.incompatible >= this.options.minDataPlanes;
  }

  /** The answer's body (O(members)). */
  body(startedAt: number, now = Date.now()) {
    const applied: PropagationMemberView[] = [];
    const pending: PropagationMemberView[] = [];
    const rejected: (PropagationMemberView & { error: string | null })[] = [];
    const incompatible: (PropagationMemberView & { [field: string]: unknown })[] = [];
    for (const { record, status } of this.members.values()) {
      const brief = { id: record.id, hostname: record.hostname, config_version: record.appliedVersion, connected: this.options.isConnected(record, now) };
      if (status === 'done') applied.push(brief);
      else if (status === 'pending') pending.push(brief);
      else if (status === 'rejected') rejected.push({ ...brief, error: record.lastError });
      else incompatible.push({ ...brief, ...incompatibilityView(record.pluginIncompatibility) });
    }
    return {
      version: this.options.version,
      epoch: this.epoch,
      waited_ms: now - startedAt,
      propagated: pending.length === 0 && rejected.length === 0 && incompatible.length === 0 && applied.length >= this.options.minDataPlanes,
      applied,
      pending,
      rejected,
      incompatible,
    };
  }

  /** Whether no member rejected the version or had it withheld. */
  get isClean(): boolean {
    return this.counts.rejected === 0 && this.counts.incompatible === 0;
  }

  private statusOf(r: DataPlaneRecord): MemberStatus {
    const { version } = this.options;
    if (r.appliedEpoch === this.epoch && r.appliedVersion >= version) return 'done';
    if (r.rejectedVersion !== null && r.rejectedVersion >= version && r.appliedEpoch === this.epoch) return 'rejected';
    if (r.pluginIncompatibility !== null) return 'incompatible';
    return 'pending';
  }
}
