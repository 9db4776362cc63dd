import { hashToken, isWellFormedToken, issueToken, TOKEN_CHARS, tokenMatches } from '../../../src/core/pauses/token';
import type { Ids } from '../../../src/core/ports';
import { randomBytes } from 'node:crypto';

const ids: Ids = { newId: () => 'x', randomBytes: (n) => randomBytes(n) };

describe('approval tokens', () => {
  it('when a token is issued, then it is 64 CSPRNG bytes as exactly 86 base64url characters', () => {
    const { token } = issueToken(ids);
    expect(token).toHaveLength(TOKEN_CHARS);
    expect(token).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(64);
  });

  it('when many tokens are issued, then they are all different', () => {
    const seen = new Set(Array.from({ length: 500 }, () => issueToken(ids).token));
    expect(seen.size).toBe(500);
  });

  it('when a token is issued, then its hash is the sha256 hex of the token and shares no piece of it', () => {
    const { token, hash } = issueToken(ids);
    expect(hash).toBe(hashToken(token));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    for (let i = 0; i + 16 <= token.length; i++) expect(hash).not.toContain(token.slice(i, i + 16));
  });

  it('when the presented token differs by one character, then it does not match the stored hash', () => {
    const { token, hash } = issueToken(ids);
    const flipped = `${token.slice(0, 40)}${token[40] === 'A' ? 'B' : 'A'}${token.slice(41)}`;
    expect(tokenMatches(token, hash)).toBe(true);
    expect(tokenMatches(flipped, hash)).toBe(false);
    expect(tokenMatches(token, '')).toBe(false);
  });

  it('when a string is not shaped like a token, then it is refused before any lookup', () => {
    expect(isWellFormedToken(issueToken(ids).token)).toBe(true);
    for (const bad of ['', 'short', 'a'.repeat(85), 'a'.repeat(87), `${'a'.repeat(85)}=`, `${'a'.repeat(85)}/`]) expect(isWellFormedToken(bad)).toBe(false);
  });

  it('when the CSPRNG returns too few bytes, then no token is issued', () => {
    expect(() => issueToken({ newId: () => 'x', randomBytes: () => Buffer.alloc(32) })).toThrow(/wrong number of bytes/);
  });
});
