import type { Ids } from '../ports';
import { constantTimeEqualHex, sha256Hex } from '../util';

/** 64 bytes from a CSPRNG, base64url without padding: always 86 characters. */
export const TOKEN_BYTES = 64;
export const TOKEN_CHARS = 86;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{86}$/;

export interface IssuedToken {
  /** Handed out once (in the 201 and the email link); never stored or logged. */
  token: string;
  /** sha256 hex: what the table keeps. */
  hash: string;
}

export function issueToken(ids: Ids): IssuedToken {
  const bytes = ids.randomBytes(TOKEN_BYTES);
  if (bytes.length !== TOKEN_BYTES) throw new Error('the CSPRNG returned the wrong number of bytes');
  const token = bytes.toString('base64url');
  return { token, hash: hashToken(token) };
}

export const hashToken = (token: string) => sha256Hex(token);

/** Cheap shape check first, so junk never costs a table read. */
export const isWellFormedToken = (token: string) => TOKEN_SHAPE.test(token);

/** Does the presented token belong to this stored hash? Constant time in the hash. */
export const tokenMatches = (token: string, storedHash: string) => constantTimeEqualHex(hashToken(token), storedHash);
