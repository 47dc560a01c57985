import { describe, expect, it } from 'vitest';
import { PluginsInUse } from './plugins-in-use.js';

describe('plugins in use', () => {
  it('counts instances per name and forgets a name with its last instance', () => {
    const inUse = new PluginsInUse();
    inUse.set('p1', 'rate-limiting');
    inUse.set('p2', 'rate-limiting');
    inUse.set('p3', 'key-auth');
    expect([...inUse.names()].sort()).toEqual(['key-auth', 'rate-limiting']);
    expect(inUse.count('rate-limiting')).toBe(2);
    inUse.delete('p1');
    expect(inUse.count('rate-limiting')).toBe(1);
    inUse.delete('p2');
    expect([...inUse.names()]).toEqual(['key-auth']);
    inUse.delete('p2'); // a delete of an id it does not hold changes nothing
    inUse.delete('unknown');
    expect(inUse.count('key-auth')).toBe(1);
  });

  it('an update of the same instance does not count it twice; a rename moves its count', () => {
    const inUse = new PluginsInUse();
    inUse.set('p1', 'acl');
    inUse.set('p1', 'acl');
    expect(inUse.count('acl')).toBe(1);
    inUse.set('p1', 'basic-auth');
    expect([...inUse.names()]).toEqual(['basic-auth']);
    inUse.clear();
    expect([...inUse.names()]).toEqual([]);
  });
});
