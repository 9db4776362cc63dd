/**
 * The Gantt timeline of an execution, drawn as SVG: one bar per worker from its start to its end (or to now),
 * grouped by stage in stage order and coloured by status. Workers that never started (Pending, Blocked,
 * Cancelled before their start) get a labelled outline instead of a bar.
 *
 * Server-rendered on purpose: the same drawing is the dashboard's (inline, no script), the image of
 * `GET /executions/{id}/timeline.svg`, and the picture in alert emails, where no script runs. Colours are
 * presentation attributes, never inline styles, so the dashboard's hash-only CSP allows it.
 * Every text is escaped here: callers may embed the result verbatim.
 */
import type { Execution, Worker } from '../orchestration/model';
import type { WorkerStatus } from '../orchestration/rules';
import { studioRunUrl } from './studio';

export const STATUS_COLOURS: Record<WorkerStatus | 'Waiting', string> = {
  Pending: '#afb8c1',
  Waiting: '#bf8700',
  Starting: '#54aeff',
  Running: '#0969da',
  Succeeded: '#2da44e',
  Failed: '#cf222e',
  Cancelled: '#9a6700',
  Blocked: '#8250df',
  Unknown: '#6e7781',
};

export interface Layout {
  width: number;
  labelWidth: number;
  rowHeight: number;
}

export const LAYOUT: Layout = { width: 960, labelWidth: 230, rowHeight: 18 };

/** The time axis of one execution: from its start to its end, or to now while it runs. */
export interface Scale {
  t0: number;
  t1: number;
  x(t: number): number;
}

export function scaleOf(e: Pick<Execution, 'startedAt' | 'endedAt'>, workers: Worker[], now: Date, layout: Layout = LAYOUT): Scale {
  const t0 = Math.min(Date.parse(e.startedAt), ...workers.filter((w) => w.startedAt).map((w) => Date.parse(w.startedAt as string)));
  const ends = workers.map((w) => (w.endedAt ? Date.parse(w.endedAt) : w.startedAt ? now.getTime() : 0));
  const t1 = Math.max(t0 + 1000, e.endedAt ? Date.parse(e.endedAt) : now.getTime(), ...ends);
  const span = layout.width - layout.labelWidth - 8;
  return { t0, t1, x: (t) => layout.labelWidth + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * span };
}

/** Why a worker is Blocked, when its own predecessors say so. */
export function blockers(w: Worker, byName: Map<string, Worker>): string[] {
  return w.dependsOn.filter((d) => ['Failed', 'Blocked', 'Cancelled', 'Unknown'].includes(byName.get(d)?.status ?? ''));
}

/** `1h 02m`, `3m 05s`, `12s`, `850 ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

const TICK_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400];

/** The axis: about six ticks at a round step, labelled by the time since the start. */
export function axisSvg(scale: Scale, layout: Layout = LAYOUT, startedAt = ''): string {
  const spanS = (scale.t1 - scale.t0) / 1000;
  const step = TICK_STEPS_S.find((s) => spanS / s <= 6) ?? 86_400;
  const ticks: string[] = [];
  for (let s = 0; s <= spanS; s += step) {
    const x = scale.x(scale.t0 + s * 1000).toFixed(1);
    ticks.push(`<line x1="${x}" y1="14" x2="${x}" y2="20" stroke="#8c959f"/><text x="${x}" y="11" font-size="10" text-anchor="middle" fill="#57606a">+${esc(formatDuration(s * 1000))}</text>`);
  }
  const label = startedAt ? `<text x="0" y="11" font-size="10" fill="#57606a">start ${esc(startedAt)}</text>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" class="gantt-axis" width="${layout.width}" height="22" viewBox="0 0 ${layout.width} 22" role="img" aria-label="time axis">${label}<line x1="${layout.labelWidth}" y1="20" x2="${layout.width - 8}" y2="20" stroke="#8c959f"/>${ticks.join('')}</svg>`;
}

/** One worker's row at vertical offset `y`: its label, then its bar (or its outline when it never started). */
export function workerRow(w: Worker, y: number, scale: Scale, byName: Map<string, Worker>, now: Date, layout: Layout = LAYOUT, links = true, position?: number): string {
  const h = layout.rowHeight;
  const colour = STATUS_COLOURS[w.status] ?? STATUS_COLOURS.Unknown;
  const label = w.name.length > 32 ? `${w.name.slice(0, 31)}…` : w.name;
  const end = w.endedAt ? Date.parse(w.endedAt) : now.getTime();
  const lines = [`${w.name}: ${w.status}`];
  if (w.startedAt) lines.push(`started ${w.startedAt}`, w.endedAt ? `ended ${w.endedAt} (${formatDuration(end - Date.parse(w.startedAt))})` : `running for ${formatDuration(end - Date.parse(w.startedAt))}`);
  if (w.lateAt) lines.push(`late since ${w.lateAt} (warn after ${w.warnAfterSeconds ?? '?'} s)`);
  if (w.history?.length) lines.push(`${w.history.length} earlier run(s): ${w.history.map((h) => h.status).join(', ')}`);
  if (w.error) lines.push(`${w.error.activity ? `at ${w.error.activity}: ` : ''}${w.error.code ? `[${w.error.code}] ` : ''}${w.error.message}`);
  const blockedBy = w.status === 'Blocked' ? blockers(w, byName) : [];
  if (blockedBy.length) lines.push(`blocked by ${blockedBy.join(', ')}`);

  let mark: string;
  if (w.startedAt) {
    const x1 = scale.x(Date.parse(w.startedAt));
    const x2 = Math.max(scale.x(end), x1 + 2);
    mark = `<rect class="bar" x="${x1.toFixed(1)}" y="${y + 3}" width="${(x2 - x1).toFixed(1)}" height="${h - 6}" rx="2" fill="${colour}"${w.endedAt ? '' : ' fill-opacity="0.75"'}${w.lateAt ? ' stroke="#bf8700" stroke-width="2"' : ''}/>${w.lateAt ? `<text class="late" x="${Math.min(x2 + 4, layout.width - 30).toFixed(1)}" y="${y + h - 5}" font-size="10" fill="#9a6700">late</text>` : ''}`;
  } else {
    const text =
      w.status === 'Blocked'
        ? `Blocked${blockedBy.length ? ` by ${blockedBy.join(', ')}` : ''}`
        : w.status === 'Pending'
          ? w.notBefore
            ? `retry at ${w.notBefore.slice(11, 19)}`
            : 'not started'
          : w.status === 'Waiting'
            ? `waiting for queue ${w.queue ?? ''}${position ? ` (#${position})` : ''}`
            : w.status === 'Starting'
              ? 'starting'
              : `${w.status}, never started`;
    const x = layout.labelWidth;
    mark = `<rect class="outline" x="${x}" y="${y + 3}" width="${Math.min(120, layout.width - x - 8)}" height="${h - 6}" rx="2" fill="none" stroke="${colour}" stroke-dasharray="3 2"/><text x="${x + 4}" y="${y + h - 5}" font-size="10" fill="${colour}">${esc(text.length > 80 ? `${text.slice(0, 79)}…` : text)}</text>`;
  }
  const link = links && w.runId && w.status === 'Failed' ? studioRunUrl(w.target, w.runId) : undefined;
  const body = `<title>${esc(lines.join('\n'))}</title><text x="0" y="${y + h - 5}" font-size="11" fill="#1f2328">${esc(label)}</text>${mark}`;
  return `<g class="worker st-${esc(w.status)}" data-worker="${esc(w.name)}" data-status="${esc(w.status)}">${link ? `<a href="${esc(link)}" target="_blank" rel="noopener noreferrer">${body}</a>` : body}</g>`;
}

/** The rows of some workers, as one SVG (a stage on the dashboard). */
export function rowsSvg(workers: Worker[], scale: Scale, byName: Map<string, Worker>, now: Date, layout: Layout = LAYOUT, label = 'workers', positions: Record<string, number> = {}): string {
  const h = layout.rowHeight;
  const rows = workers.map((w, i) => workerRow(w, i * h, scale, byName, now, layout, true, positions[w.name])).join('');
  const height = Math.max(h, workers.length * h);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="${layout.width}" height="${height}" viewBox="0 0 ${layout.width} ${height}" role="img" aria-label="${esc(label)}">${rows}</svg>`;
}

export interface TimelineOptions {
  layout?: Layout;
  /** Past this many worker rows, a stage shows one summary row plus its failed and running workers. */
  maxRows?: number;
}

/** Workers of one stage, in start-priority order. */
export const stageWorkers = (stage: string, workers: Worker[]) => workers.filter((w) => w.stage === stage).sort((a, b) => a.order - b.order);

/** Counts by status, in a fixed order: `3 Succeeded, 1 Failed`. */
export function statusCounts(workers: Worker[]): Array<{ status: WorkerStatus; count: number }> {
  return (Object.keys(STATUS_COLOURS) as WorkerStatus[]).map((status) => ({ status, count: workers.filter((w) => w.status === status).length })).filter((c) => c.count > 0);
}

/** The whole execution as one standalone SVG image (for `timeline.svg` and alert emails). */
export function timelineSvg(e: Execution, workers: Worker[], now: Date, options: TimelineOptions = {}): string {
  const layout = options.layout ?? LAYOUT;
  const maxRows = options.maxRows ?? 400;
  const h = layout.rowHeight;
  const scale = scaleOf(e, workers, now, layout);
  const byName = new Map(workers.map((w) => [w.name, w]));
  const summarise = workers.length > maxRows;
  const parts: string[] = [];
  let y = 46;
  for (const stage of e.stages) {
    const ws = stageWorkers(stage, workers);
    const counts = statusCounts(ws).map((c) => `${c.count} ${c.status}`).join(', ');
    parts.push(`<text class="stage" x="0" y="${y + h - 4}" font-size="12" font-weight="bold" fill="#1f2328">${esc(stage)}</text><text x="${layout.labelWidth}" y="${y + h - 4}" font-size="11" fill="#57606a">${esc(`${ws.length} workers${counts ? `: ${counts}` : ''}`)}</text>`);
    y += h;
    const shown = summarise ? ws.filter((w) => w.status === 'Failed' || w.status === 'Running').slice(0, 20) : ws;
    for (const w of shown) {
      parts.push(workerRow(w, y, scale, byName, now, layout, false));
      y += h;
    }
    if (shown.length < ws.length) {
      parts.push(`<text x="12" y="${y + h - 5}" font-size="11" fill="#57606a">${esc(`… ${ws.length - shown.length} more (see the dashboard)`)}</text>`);
      y += h;
    }
    y += 4;
  }
  const title = `${e.batch ?? '(all stages)'} · ${e.executionId} · ${e.status}`;
  const header = `<text x="0" y="14" font-size="13" font-weight="bold" fill="#1f2328">${esc(title)}</text><g transform="translate(0 20)">${axisSvg(scale, layout, e.startedAt).replace(/^<svg[^>]*>|<\/svg>$/g, '')}</g>`;
  const height = y + 4;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${height}" viewBox="0 0 ${layout.width} ${height}" font-family="Segoe UI, Arial, sans-serif"><rect width="100%" height="100%" fill="#ffffff"/>${header}${parts.join('')}</svg>`;
}

/** The facts every view of an execution starts with (dashboard card, alert email). */
export function executionSummary(e: Execution, workers: Worker[], now: Date) {
  const end = e.endedAt ? Date.parse(e.endedAt) : now.getTime();
  return {
    executionId: e.executionId,
    batch: e.batch ?? '(all stages)',
    status: e.status,
    startedAt: e.startedAt,
    endedAt: e.endedAt ?? '',
    duration: formatDuration(end - Date.parse(e.startedAt)),
    total: workers.length,
    counts: statusCounts(workers),
  };
}

/** XML/HTML text and attribute escaping; characters XML cannot hold (controls, lone surrogates) are dropped. */
export function esc(s: string): string {
  return s.toWellFormed().replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
