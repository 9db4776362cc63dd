/**
 * Where a secret shows up in a text: in the fragment, path or query of a URL around it, or elsewhere
 * (a JSON member, a form field, a request body). Tests use it to prove that no approval URL carries the
 * token where a server would see it: only `fragment` is allowed in a URL.
 */

export type Placement = 'fragment' | 'query' | 'path' | 'elsewhere';

export interface Sighting {
  placement: Placement;
  /** The URL-ish run of characters around the token, with the token shortened, for a readable failure. */
  excerpt: string;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Undoes HTML character references (Mustache writes `/` as `&#x2F;` and `=` as `&#x3D;`) and JSON's `\/` and `\u00XX`. */
export function decodeEscapes(text: string): string {
  return text
    .replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) =>
      e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : (NAMED[e.toLowerCase()] ?? ''),
    )
    .replace(/\\\//g, '/')
    .replace(/\\u00([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Characters that cannot be part of a URL written in a text: they end the run around a sighting. */
const OUTSIDE_URL = /[\s"'<>`\\{}|^]/;

/**
 * Every occurrence of `token` in `text` (after undoing HTML and JSON escapes), classified by what precedes
 * it in the same run of URL characters: after the first `#`, a fragment; else after a `?`, a query; else
 * after a `/`, a path; otherwise not in a URL at all. A URL wrapped in another one's query (a mail
 * gateway's rewrite) counts as that query: the gateway's server sees it.
 */
export function tokenSightings(text: string, token: string): Sighting[] {
  const plain = decodeEscapes(text);
  const out: Sighting[] = [];
  for (let at = plain.indexOf(token); at >= 0; at = plain.indexOf(token, at + token.length)) {
    let start = at;
    while (start > 0 && !OUTSIDE_URL.test(plain[start - 1]!)) start--;
    let end = at + token.length;
    while (end < plain.length && !OUTSIDE_URL.test(plain[end]!)) end++;
    const before = plain.slice(start, at);
    const placement: Placement = before.includes('#') ? 'fragment' : before.includes('?') ? 'query' : before.includes('/') ? 'path' : 'elsewhere';
    out.push({ placement, excerpt: plain.slice(start, end).split(token).join(`${token.slice(0, 6)}…`) });
  }
  return out;
}

/** The sightings a server could log: the token in a URL's path or query. */
export const inPathOrQuery = (text: string, token: string) => tokenSightings(text, token).filter((s) => s.placement === 'path' || s.placement === 'query');
