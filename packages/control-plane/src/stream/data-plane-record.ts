/**
 * One data plane as the registry knows it: the `data_planes` row, its in-memory record, the clustering
 * API's view of it, and how it stands against the head.
 */
import { entityTypeName, pb, type AckMessage, type ConfigStateView, type HelloMessage } from '@sluice/protocol';
import type { ColumnType, Insertable, Selectable } from 'kysely';
import type { BigIntColumn, JsonColumn } from '../store/database.js';
import type { PluginIncompatibility } from './plugin-compatibility.js';

/** How a data plane stands against the control plane's head. */
export const SyncStatus = {
  IN_SYNC: 'in_sync',
  BEHIND: 'behind',
  REJECTED: 'rejected',
  INCOMPATIBLE: 'incompatible',
} as const;
export type SyncStatus = (typeof SyncStatus)[keyof typeof SyncStatus];

/** A nullable `bigint` column: read as string (pg) or number (PGlite), written as a number. */
type NullableBigIntColumn = ColumnType<string | number | null, number | null, number | null>;

/** The `data_planes` table (migration 0002). Times are epoch milliseconds. */
export interface DataPlanesTable {
  id: string;
  hostname: string;
  ip: string;
  build_version: string;
  protocol_version: number;
  labels: JsonColumn<Record<string, string>>;
  cp_instance_id: string;
  connected: boolean;
  connected_at: NullableBigIntColumn;
  last_seen: BigIntColumn;
  applied_epoch: string;
  applied_version: BigIntColumn;
  applied_hash: string;
  last_error: string | null;
  last_error_code: string | null;
  rejected_version: NullableBigIntColumn;
  incompatible: boolean;
  /** Migration 0009: why the head is withheld from it (capability negotiation), or null. */
  plugin_incompatibility: JsonColumn<PluginIncompatibility | null>;
}

/** What one data plane's connection knows about it; persisted as one `data_planes` row. */
export interface DataPlaneRecord {
  id: string;
  hostname: string;
  ip: string;
  buildVersion: string;
  protocolVersion: number;
  labels: Record<string, string>;
  cpInstanceId: string;
  connected: boolean;
  connectedAt: number | null;
  lastSeen: number;
  appliedEpoch: string;
  appliedVersion: number;
  appliedHash: string;
  lastError: string | null;
  lastErrorCode: string | null;
  rejectedVersion: number | null;
  /** Refused at Hello for its protocol version (never a live connection). */
  incompatible: boolean;
  /**
   * The plugins the head uses that this connected data plane lacks: the head is withheld from it
   * and it keeps serving what it has (capability negotiation); null when nothing is withheld.
   */
  pluginIncompatibility: PluginIncompatibility | null;
}

/** A data plane as the clustering API shows it. */
export interface DataPlaneView {
  id: string;
  hostname: string;
  ip: string;
  version: string;
  labels: Record<string, string>;
  connected: boolean;
  last_seen: number;
  connected_at: number | null;
  control_plane_instance: string;
  config: { epoch: string; version: number; hash: string };
  sync_status: SyncStatus;
  error: { code: string | null; message: string; rejected_version: number | null } | null;
  /** With `sync_status: incompatible` for its plugins: which the head uses that it lacks (else null). */
  incompatible: {
    missing_plugins: readonly string[];
    plugin_versions: readonly { name: string; data_plane_version: string; control_plane_version: string }[];
  } | null;
}

/** A nullable bigint column's value as a number. */
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** The API view of a plugin incompatibility (`DataPlaneView.incompatible`). */
export function incompatibilityView(finding: PluginIncompatibility | null): DataPlaneView['incompatible'] {
  if (finding === null) return null;
  return {
    missing_plugins: finding.missingPlugins,
    plugin_versions: finding.versionMismatches.map((m) => ({ name: m.name, data_plane_version: m.dataPlaneVersion, control_plane_version: m.controlPlaneVersion })),
  };
}


/** A `data_planes` row as a record. */
export function fromRow(row: Selectable<DataPlanesTable>): DataPlaneRecord {
  return {
    id: row.id,
    hostname: row.hostname,
    ip: row.ip,
    buildVersion: row.build_version,
    protocolVersion: row.protocol_version,
    labels: row.labels ?? {},
    cpInstanceId: row.cp_instance_id,
    connected: row.connected,
    connectedAt: num(row.connected_at),
    lastSeen: Number(row.last_seen),
    appliedEpoch: row.applied_epoch,
    appliedVersion: Number(row.applied_version),
    appliedHash: row.applied_hash,
    lastError: row.last_error,
    lastErrorCode: row.last_error_code,
    rejectedVersion: num(row.rejected_version),
    incompatible: row.incompatible,
    pluginIncompatibility: row.plugin_incompatibility ?? null,
  };
}

/** A record as its `data_planes` row. */
export function toRow(r: DataPlaneRecord): Insertable<DataPlanesTable> {
  return {
    id: r.id,
    hostname: r.hostname,
    ip: r.ip,
    build_version: r.buildVersion,
    protocol_version: r.protocolVersion,
    labels: JSON.stringify(r.labels),
    cp_instance_id: r.cpInstanceId,
    connected: r.connected,
    connected_at: r.connectedAt,
    last_seen: r.lastSeen,
    applied_epoch: r.appliedEpoch,
    applied_version: r.appliedVersion,
    applied_hash: r.appliedHash,
    last_error: r.lastError,
    last_error_code: r.lastErrorCode,
    rejected_version: r.rejectedVersion,
    incompatible: r.incompatible,
    plugin_incompatibility: r.pluginIncompatibility === null ? null : JSON.stringify(r.pluginIncompatibility),
  };
}

/**
 * How a data plane stands against a head: incompatible (withheld for its protocol or its plugins),
 * in sync (it holds the head's epoch at or past its version), rejected (its last push was refused
 * and it holds nothing newer), else behind.
 */
export function syncStatusOf(record: DataPlaneRecord, head: { epoch: string; version: number }): SyncStatus {
  if (record.incompatible || record.pluginIncompatibility !== null) return SyncStatus.INCOMPATIBLE;
  if (record.appliedEpoch === head.epoch && record.appliedVersion >= head.version) return SyncStatus.IN_SYNC;
  if (record.rejectedVersion !== null && (record.appliedEpoch !== head.epoch || record.rejectedVersion > record.appliedVersion)) return SyncStatus.REJECTED;
  return SyncStatus.BEHIND;
}

/** The clustering API's view of a record against `head`; `isConnected` as the registry judges it (flagged and fresh). */
export function dataPlaneView(record: DataPlaneRecord, head: { epoch: string; version: number }, isConnected: boolean): DataPlaneView {
  const status = syncStatusOf(record, head);
  return {
    id: record.id,
    hostname: record.hostname,
    ip: record.ip,
    version: record.buildVersion,
    labels: record.labels,
    connected: isConnected,
    last_seen: Math.floor(record.lastSeen / 1000),
    connected_at: record.connectedAt === null ? null : Math.floor(record.connectedAt / 1000),
    control_plane_instance: record.cpInstanceId,
    config: { epoch: record.appliedEpoch, version: record.appliedVersion, hash: record.appliedHash },
    sync_status: status,
    error:
      record.lastError !== null && (status === SyncStatus.REJECTED || status === SyncStatus.INCOMPATIBLE)
        ? { code: record.lastErrorCode, message: record.lastError, rejected_version: record.rejectedVersion }
        : null,
    incompatible: incompatibilityView(record.pluginIncompatibility),
  };
}

/**
 * The record of a data plane connecting with `hello` (its claimed state already read as
 * `applied`) at `connectedAt` (unique per connection), seen at `seenAt`; no error yet.
 */
export function recordFromHello(hello: HelloMessage, ip: string, cpInstanceId: string, applied: ConfigStateView, connectedAt: number, seenAt: number): DataPlaneRecord {
  return {
    id: hello.nodeId ?? '',
    hostname: hello.hostname ?? '',
    ip,
    buildVersion: hello.buildVersion ?? '',
    protocolVersion: hello.protocolVersion ?? 0,
    labels: hello.labels ?? {},
    cpInstanceId,
    connected: true,
    connectedAt,
    lastSeen: seenAt,
    appliedEpoch: applied.epoch,
    appliedVersion: applied.version,
    appliedHash: applied.hash,
    lastError: null,
    lastErrorCode: null,
    rejectedVersion: null,
    incompatible: false,
    pluginIncompatibility: null,
  };
}

/** Most per-entity errors of a NACK quoted in the message the registry keeps. */
const NACK_DETAILS = 5;

/** A NACK as the registry records it: its error's name, and its message with the first entity errors it names. */
export function nackSummary(ack: AckMessage): { code: string; message: string } {
  const error = ack.error ?? 0;
  const code = (pb.Ack.Error as unknown as Record<number, string>)[error] ?? `ERROR_${error}`;
  const details = (ack.resourceErrors ?? []).slice(0, NACK_DETAILS).map((e) => `${entityTypeName(e.key?.type ?? 0)} ${e.key?.id}: ${e.message}`);
  return { code, message: [ack.message ?? '', ...details].filter(Boolean).join('; ') };
}
