import type { BasicAuthRecord, ConsumerDirectoryView, PluginConsumer, PluginCredential } from '../plugin-context.js';

// Test-only (left out of the build): a ConsumerDirectoryView over plain lists, for handler unit
// tests. The real one (config/consumer-directory.ts) is tested against the same behaviour.

/** What a {@link fakeConsumerDirectory} holds. */
export interface FakeDirectoryData {
  readonly consumers?: readonly PluginConsumer[];
  /** key-auth credentials: `expiresAtMs` null/absent = never. */
  readonly keys?: readonly { readonly id: string; readonly consumerId: string; readonly key: string; readonly expiresAtMs?: number | null }[];
  readonly basics?: readonly { readonly id: string; readonly consumerId: string; readonly username: string; readonly passwordHash: string }[];
  /** Groups by consumer id, in creation order. */
  readonly groups?: Readonly<Record<string, readonly string[]>>;
  /** The clock for expiry, ms (default `Date.now`). */
  readonly now?: () => number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A directory answering from `data` with the real one's rules (expiry at lookup; anonymous by id if a UUID, else username). */
export function fakeConsumerDirectory(data: FakeDirectoryData): ConsumerDirectoryView {
  const now = data.now ?? Date.now;
  const consumers = data.consumers ?? [];
  return {
    keyAuthCredential(key) {
      const k = data.keys?.find((c) => c.key === key);
      if (k === undefined || (k.expiresAtMs != null && k.expiresAtMs <= now())) return undefined;
      return { id: k.id, consumerId: k.consumerId, identifier: k.id } satisfies PluginCredential;
    },
    basicAuthCredential(username) {
      const b = data.basics?.find((c) => c.username === username);
      return b === undefined ? undefined : ({ credential: { id: b.id, consumerId: b.consumerId, identifier: b.username }, passwordHash: b.passwordHash } satisfies BasicAuthRecord);
    },
    consumer: (id) => consumers.find((c) => c.id === id),
    anonymousConsumer(x) {
      const byId = UUID.test(x) ? consumers.find((c) => c.id === x) : undefined;
      return byId ?? consumers.find((c) => c.username === x);
    },
    groupsOf: (id) => data.groups?.[id] ?? [],
  };
}
