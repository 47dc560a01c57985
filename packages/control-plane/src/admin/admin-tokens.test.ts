import { describe, expect, it } from 'vitest';
import { AdminTokenSet, ENV_ADMIN_TOKEN_NAME } from './admin-tokens.js';

const ADMIN = 'admin-token-0123456789';
const READER = 'reader-token-0123456789';

describe('AdminTokenSet', () => {
  it('reads NAME ROLE TOKEN lines, comments and blank lines, plus SLUICE_ADMIN_TOKEN as an admin', () => {
    const tokens = AdminTokenSet.from({ envToken: 'env-token-0123456789', fileText: `# ops tokens\n\nci admin ${ADMIN}\n  dashboards\tread-only   ${READER}  \r\n`, fileName: 'tokens' });
    expect(tokens.identities).toEqual([
      { name: ENV_ADMIN_TOKEN_NAME, role: 'admin' },
      { name: 'ci', role: 'admin' },
      { name: 'dashboards', role: 'read-only' },
    ]);
    expect(tokens.identify(ADMIN)).toEqual({ name: 'ci', role: 'admin' });
    expect(tokens.identify(READER)).toEqual({ name: 'dashboards', role: 'read-only' });
    expect(tokens.identify('env-token-0123456789')).toEqual({ name: ENV_ADMIN_TOKEN_NAME, role: 'admin' });
    expect(tokens.identify(`${ADMIN}x`)).toBeNull();
    expect(tokens.identify('')).toBeNull();
    expect(AdminTokenSet.from({}).size).toBe(0);
  });

  it.each([
    [`ci admin`, 'tokens:1: expected NAME ROLE TOKEN, got 2 fields'],
    [`ci owner ${ADMIN}`, 'tokens:1: the role must be admin or read-only, got "owner"'],
    [`c/i admin ${ADMIN}`, 'tokens:1: a name is 1 to 64 of'],
    [`ci admin short`, 'tokens:1: a token has at least 16 characters'],
    [`# x\nci admin ${ADMIN}\nci read-only ${READER}`, 'tokens:3: the name ci is given twice'],
    [`ci admin ${ADMIN}\nother read-only ${ADMIN}`, 'tokens:2: this token is given twice'],
  ])('refuses %j naming the line, never the token', (text, message) => {
    let error: Error | undefined;
    try {
      AdminTokenSet.from({ fileText: text, fileName: 'tokens' });
    } catch (err) {
      error = err as Error;
    }
    expect(error).toMatchObject({ code: 'SLUICE_CP_CONFIG' });
    expect(error!.message).toContain(message);
    expect(error!.message).not.toContain(ADMIN);
    expect(error!.message).not.toContain('short');
  });
});
