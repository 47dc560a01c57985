/**
 * The generated protobuf classes for the `sluice.v1` package (from proto/sluice/v1/*.proto, built by
 * scripts/generate.js). This is the only module that touches the generated code.
 */
import './protobuf-runtime.js';
import { sluice } from '../generated/sluice.js';

/** The `sluice.v1` protobuf namespace: message classes with encode/decode and their enums. */
export const pb = sluice.v1;
export type { sluice };

export type Envelope = sluice.v1.Envelope;
export type EnvelopeProperties = sluice.v1.Envelope.$Properties;
export type ConfigStateMessage = sluice.v1.ConfigState.$Properties;
export type ResourceMessage = sluice.v1.Resource.$Properties;
export type ResourceKeyMessage = sluice.v1.ResourceKey.$Properties;
export type ResourceBatchMessage = sluice.v1.ResourceBatch.$Properties;
export type HelloMessage = sluice.v1.Hello.$Properties;
export type HelloAckMessage = sluice.v1.HelloAck.$Properties;
export type SnapshotBeginMessage = sluice.v1.SnapshotBegin.$Properties;
export type SnapshotChunkMessage = sluice.v1.SnapshotChunk.$Properties;
export type ConfigDeltaMessage = sluice.v1.ConfigDelta.$Properties;
export type AckMessage = sluice.v1.Ack.$Properties;
export type HeartbeatMessage = sluice.v1.Heartbeat.$Properties;
export type ResyncRequestMessage = sluice.v1.ResyncRequest.$Properties;
export type GoAwayMessage = sluice.v1.GoAway.$Properties;
export type BlobMessage = sluice.v1.Blob.$Properties;
export type PluginCapabilityMessage = sluice.v1.PluginCapability.$Properties;
