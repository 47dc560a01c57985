import { describe, expect, it } from 'vitest';
import { ConfigModel, makeRoute, makeService } from '../../test/helpers/config-model.js';
import { applyDelta } from './apply-delta.js';
import { applySnapshot } from './apply-snapshot.js';
import { ConfigFollower, deltaMessage, snapshotMessage, type ConfigChannelMessage } from './config-channel.js';

function history(): ConfigModel {
  const model = new ConfigModel();
  for (let i = 0; i < 4; i++) {
    const s = makeService(`s${i}`);
    model.commit({ upsert: [s, makeRoute(`r${i}`, s.id)] });
  }
  return model;
}

describe('config channel (primary → proxy workers)', () => {
  it('a worker follows a snapshot then deltas, ending with the primary’s exact config; JSON-safe messages', async () => {
    const model = history();
    const sent: ConfigChannelMessage[] = [];
    const follower = new ConfigFollower({ send: (m) => sent.push(m) });
    const initial = follower.requestInitial();
    expect(sent).toEqual([{ type: 'sluice:config-resync' }]);

    const base = applySnapshot(model.snapshot(2), { epoch: model.epoch, version: 2, hash: model.hashAt(2) });
    if (!base.ok) throw base.error;
    expect(follower.handle(JSON.parse(JSON.stringify(snapshotMessage(base.config))))).toBe(true);
    await initial;
    expect(follower.current?.hashHex).toBe(base.config.hashHex);
    expect(follower.current?.source).toBe('control_plane');

    let primary = base.config;
    for (const to of [3, 4]) {
      const delta = { epoch: model.epoch, fromVersion: primary.version, toVersion: to, targetHash: model.hashAt(to), batch: model.delta(primary.version, to) };
      const result = applyDelta(primary, delta);
      if (!result.ok) throw result.error;
      primary = result.config;
      follower.handle(JSON.parse(JSON.stringify(deltaMessage(delta))));
    }
    expect(follower.current?.version).toBe(4);
    expect(follower.current?.hashHex).toBe(primary.hashHex);
    expect(follower.current?.router.size).toBe(primary.router.size);
    expect(sent).toHaveLength(1);
  });

  it('asks for a snapshot when a delta does not apply, and ignores foreign messages', () => {
    const model = history();
    const sent: ConfigChannelMessage[] = [];
    const follower = new ConfigFollower({ send: (m) => sent.push(m) });
    follower.handle(deltaMessage({ epoch: model.epoch, fromVersion: 1, toVersion: 2, targetHash: model.hashAt(2), batch: model.delta(1, 2) }));
    expect(follower.current).toBeNull();
    expect(sent).toEqual([{ type: 'sluice:config-resync' }]);
    expect(follower.handle({ type: 'something-else' })).toBe(false);
  });

  it('resolves the initial request when the primary has no config yet', async () => {
    const follower = new ConfigFollower({ send: () => undefined });
    const initial = follower.requestInitial();
    follower.handle({ type: 'sluice:config-none' });
    await initial;
    expect(follower.current).toBeNull();
  });
});
