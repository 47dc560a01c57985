import { describe, expect, it } from 'vitest';
import { ConfigModel, makeRoute, makeService } from '../../test/helpers/config-model.js';
import { applyDelta } from '../config/apply-delta.js';
import { applySnapshot } from '../config/apply-snapshot.js';
import { ConfigFollower } from './config-follower.js';
import { deltaMessage, snapshotMessage, type ConfigChannelMessage } from './worker-messages.js';

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
    await follower.whenIdle();
    expect(follower.current?.version).toBe(4);
    expect(follower.current?.hashHex).toBe(primary.hashHex);
    expect(follower.current?.router.size).toBe(primary.router.size);
    expect(sent).toHaveLength(1);
  });

  it('asks for a snapshot when a delta does not apply, and ignores foreign messages', async () => {
    const model = history();
    const sent: ConfigChannelMessage[] = [];
    const follower = new ConfigFollower({ send: (m) => sent.push(m) });
    follower.handle(deltaMessage({ epoch: model.epoch, fromVersion: 1, toVersion: 2, targetHash: model.hashAt(2), batch: model.delta(1, 2) }));
    await follower.whenIdle();
    expect(follower.current).toBeNull();
    expect(sent).toEqual([{ type: 'sluice:config-resync' }]);
    expect(follower.handle({ type: 'something-else' })).toBe(false);
  });

  it('applies a large snapshot in slices, serving the previous config meanwhile, and keeps the messages after it in order', async () => {
    const model = new ConfigModel();
    const s = makeService('s');
    model.commit({ upsert: [s, makeRoute('r-first', s.id, { paths: ['/first'] })] });
    const big: Parameters<ConfigModel['commit']>[0]['upsert'] = [];
    for (let i = 0; i < 3000; i++) big.push(makeRoute(`r${i}`, s.id, { paths: [`/p${i}`] }));
    model.commit({ upsert: big });
    model.commit({ upsert: [makeRoute('r-last', s.id, { paths: ['/last'] })] });

    const follower = new ConfigFollower({ send: () => undefined }, undefined, { sliceMs: 1 });
    const v1 = applySnapshot(model.snapshot(1), { epoch: model.epoch, version: 1, hash: model.hashAt(1) });
    const v2 = applySnapshot(model.snapshot(2), { epoch: model.epoch, version: 2, hash: model.hashAt(2) });
    if (!v1.ok || !v2.ok) throw new Error('model snapshots must apply');
    follower.handle(snapshotMessage(v1.config));
    await follower.whenIdle();
    expect(follower.current?.version).toBe(1);

    // The big snapshot, then a delta on top of it, handed over back to back.
    follower.handle(snapshotMessage(v2.config));
    follower.handle(deltaMessage({ epoch: model.epoch, fromVersion: 2, toVersion: 3, targetHash: model.hashAt(3), batch: model.delta(2, 3) }));
    // The event loop turns while the snapshot is built, and the worker still serves version 1.
    const turns: number[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      turns.push(follower.current?.version ?? 0);
    }
    expect(turns).toEqual([1, 1, 1]);
    await follower.whenIdle();
    expect(follower.current?.version).toBe(3);
    expect(follower.current?.hashHex).toBe(Buffer.from(model.hashAt(3)).toString('hex'));
    expect(follower.current?.router.size).toBe(3002);
  });

  it('a snapshot supersedes the deltas still waiting before it', async () => {
    const model = history();
    const sent: ConfigChannelMessage[] = [];
    const follower = new ConfigFollower({ send: (m) => sent.push(m) });
    const base = applySnapshot(model.snapshot(2), { epoch: model.epoch, version: 2, hash: model.hashAt(2) });
    const head = applySnapshot(model.snapshot(4), { epoch: model.epoch, version: 4, hash: model.hashAt(4) });
    if (!base.ok || !head.ok) throw new Error('model snapshots must apply');
    follower.handle(snapshotMessage(base.config));
    // Waits behind the first snapshot, then is dropped: the next snapshot replaces everything.
    follower.handle(deltaMessage({ epoch: 'another-epoch', fromVersion: 9, toVersion: 10, targetHash: model.hashAt(3), batch: model.delta(2, 3) }));
    follower.handle(snapshotMessage(head.config));
    await follower.whenIdle();
    expect(follower.current?.version).toBe(4);
    expect(sent).toEqual([]);
  });

  it('refuses an undecodable message and goes on with the next one', async () => {
    const model = history();
    const sent: ConfigChannelMessage[] = [];
    const follower = new ConfigFollower({ send: (m) => sent.push(m) });
    const head = applySnapshot(model.snapshot(4), { epoch: model.epoch, version: 4, hash: model.hashAt(4) });
    if (!head.ok) throw new Error('model snapshot must apply');
    const good = snapshotMessage(head.config);
    follower.handle({ ...good, batch: Buffer.from([0xff, 0xff, 0xff]).toString('base64') });
    await follower.whenIdle();
    expect(follower.current).toBeNull();
    follower.handle(good);
    await follower.whenIdle();
    expect(follower.current?.version).toBe(4);
  });

  it('resolves the initial request when the primary has no config yet', async () => {
    const follower = new ConfigFollower({ send: () => undefined });
    const initial = follower.requestInitial();
    follower.handle({ type: 'sluice:config-none' });
    await initial;
    expect(follower.current).toBeNull();
  });
});
