// A snapshot of services and routes as the control plane sends one: each entity encoded once, the
// batch of upserts, and the target (epoch, version, content hash) the data plane checks it against.
import { ConfigHash, encodeRoute, encodeService, ENTITY_TYPE_BY_KIND } from '@sluice/protocol';

/**
 * @param {import('@sluice/protocol').Service[]} services
 * @param {import('@sluice/protocol').Route[]} routes
 * @returns {{ batch: { upserts: { type: number, id: string, version: number, payload: Uint8Array }[], removals: [] }, target: { epoch: string, version: number, hash: Uint8Array } }}
 */
export function snapshotOf(services, routes, { epoch = 'bench', version = 1 } = {}) {
  const hash = new ConfigHash();
  const upserts = [];
  for (const [kind, list, encode] of [['services', services, encodeService], ['routes', routes, encodeRoute]]) {
    for (const entity of list) {
      const payload = encode(entity);
      hash.set(kind, entity.id, payload);
      upserts.push({ type: ENTITY_TYPE_BY_KIND[kind], id: entity.id, version, payload });
    }
  }
  return { batch: { upserts, removals: [] }, target: { epoch, version, hash: hash.bytes() } };
}
