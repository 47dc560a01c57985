/**
 * What a control plane answers a data plane's Hello with, decided from the Hello alone and the
 * replica's config mirror: whether the Hello is acceptable, and which mode its HelloAck announces.
 * The session does the I/O (registry, sends, close); this file holds the rules.
 */
import { type ConfigStateView, type HelloMessage, pb } from '@sluice/protocol';
import type { ConfigMirror } from '../changes/config-mirror.js';

/** Bounds on what a Hello may carry; anything larger is a policy violation (close 1008). */
export const HELLO_LIMITS = { maxIdLength: 128, maxStringLength: 256, maxLabels: 64, maxPlugins: 256 } as const;

/** True when a Hello names a node and stays within {@link HELLO_LIMITS}. */
export function isHelloWithinLimits(hello: HelloMessage): boolean {
  const nodeId = hello.nodeId ?? '';
  const labels = hello.labels ?? {};
  const plugins = hello.plugins ?? [];
  return (
    nodeId.length > 0 &&
    nodeId.length <= HELLO_LIMITS.maxIdLength &&
    (hello.hostname ?? '').length <= HELLO_LIMITS.maxStringLength &&
    (hello.buildVersion ?? '').length <= HELLO_LIMITS.maxStringLength &&
    Object.keys(labels).length <= HELLO_LIMITS.maxLabels &&
    Object.entries(labels).every(([k, v]) => k.length <= HELLO_LIMITS.maxStringLength && v.length <= HELLO_LIMITS.maxStringLength) &&
    plugins.length <= HELLO_LIMITS.maxPlugins &&
    plugins.every((p) => (p.name ?? '').length <= HELLO_LIMITS.maxStringLength && (p.version ?? '').length <= HELLO_LIMITS.maxStringLength)
  );
}

/** True when the data plane is ahead of this replica in the same epoch (it must retry later, or the replica catch up). */
export function isAheadOf(applied: ConfigStateView, mirror: Pick<ConfigMirror, 'epoch' | 'version'>): boolean {
  return applied.epoch === mirror.epoch && applied.version > mirror.version;
}

/**
 * The HelloAck mode for a data plane at `applied`: up to date (same epoch, version and hash), a
 * delta (same epoch, within the retained log, and a delta the mirror will build: it refuses one
 * bigger than half the config; the packed delta is then cached for the push), else a snapshot.
 */
export async function helloMode(applied: ConfigStateView, mirror: Pick<ConfigMirror, 'epoch' | 'version' | 'minRetainedVersion' | 'hashHex' | 'delta'>): Promise<number> {
  if (applied.epoch === mirror.epoch && applied.version === mirror.version && applied.hash === mirror.hashHex()) return pb.HelloAck.Mode.MODE_UP_TO_DATE;
  if (applied.epoch === mirror.epoch && applied.version < mirror.version && applied.version >= mirror.minRetainedVersion && (await mirror.delta(applied.version)) !== null) {
    return pb.HelloAck.Mode.MODE_DELTA;
  }
  return pb.HelloAck.Mode.MODE_SNAPSHOT;
}
