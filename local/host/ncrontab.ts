/** A small NCRONTAB (6 fields, with seconds) matcher: `*`, `*\/n`, `a-b`, `a-b/n`, lists. */
const RANGES: Array<[number, number]> = [
  [0, 59], // second
  [0, 59], // minute
  [0, 23], // hour
  [1, 31], // day of month
  [1, 12], // month
  [0, 6], // day of week
];

function parseField(field: string, [min, max]: [number, number]): Set<number> {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad step in '${field}'`);
    let lo = min;
    let hi = max;
    if (range !== '*') {
      const [a, b] = (range ?? '').split('-');
      lo = Number(a);
      hi = b === undefined ? (stepText === undefined ? lo : max) : Number(b);
    }
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < min || hi > max || lo > hi) throw new Error(`bad range in '${field}'`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export class Ncrontab {
  private readonly sets: Set<number>[];
  constructor(readonly expression: string) {
    const fields = expression.trim().split(/\s+/);
    if (fields.length !== 6) throw new Error(`NCRONTAB needs 6 fields (with seconds): '${expression}'`);
    this.sets = fields.map((f, i) => parseField(f, RANGES[i] as [number, number]));
  }
  matches(d: Date): boolean {
    const v = [d.getUTCSeconds(), d.getUTCMinutes(), d.getUTCHours(), d.getUTCDate(), d.getUTCMonth() + 1, d.getUTCDay()];
    return v.every((x, i) => (this.sets[i] as Set<number>).has(x));
  }
  /** The next matching whole second strictly after `from`. */
  next(from: Date): Date {
    const t = new Date(Math.floor(from.getTime() / 1000) * 1000 + 1000);
    for (let i = 0; i < 366 * 86_400; i++, t.setTime(t.getTime() + 1000)) if (this.matches(t)) return t;
    throw new Error(`'${this.expression}' never fires`);
  }
}
