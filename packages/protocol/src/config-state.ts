import { hashHex } from './config-hash.js';
import type { ConfigStateMessage } from './proto.js';

/** A config state in plain form: which config a plane holds. `epoch` "" means no config at all. */
export interface ConfigStateView {
  epoch: string;
  version: number;
  hash: string;
}

/** Converts a wire ConfigState into its plain form (hash as hex). */
export function configStateView(state: ConfigStateMessage | null | undefined): ConfigStateView {
  return { epoch: state?.epoch ?? '', version: Number(state?.version ?? 0), hash: hashHex(state?.hash) };
}

/** Builds a wire ConfigState. */
export function configStateMessage(epoch: string, version: number, hash: Uint8Array): ConfigStateMessage {
  return { epoch, version, hash };
}
