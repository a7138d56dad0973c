import type { PinterestEqs } from './pinterest-eqs.ts';
import { clickAge, type DestinationQuality, type QualityReport, type QualityRow } from './quality.ts';

/**
 * The quality report as one self-contained HTML page (inline CSS and SVG; no script, no CDN, no font download), for
 * a marketer: per destination a score gauge beside the platform's own score, the share of events carrying each key,
 * the score per event name, and the reasons events were skipped or weak.
 */
const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

const KEY_LABELS: Record<string, string> = {
  em: 'E-mail', ph: 'Phone', fn: 'First name', ln: 'Last name', street: 'Street', ct: 'City', st: 'State', zp: 'Zip', country: 'Country',
  xid: 'External ID', ip: 'IP address', ua: 'User agent', fbc: 'Meta click (fbc)', fbp: 'Meta browser ID (fbp)', gclid: 'Google click (gclid)',
  gbraid: 'gbraid', wbraid: 'wbraid', ttclid: 'TikTok click (ttclid)', ttp: 'TikTok browser ID (ttp)', cid: 'GA client ID', 'cid~': 'GA client ID (synthetic)',
};
const colour = (score: number) => (score >= 7 ? '#1a7f37' : score >= 4 ? '#bf8700' : '#cf222e');

function gauge(label: string, score: number | undefined, caption: string): string {
  const r = 42;
  const circumference = 2 * Math.PI * r;
  const filled = score === undefined ? 0 : (Math.max(0, Math.min(10, score)) / 10) * circumference;
  return `<figure class="gauge"><svg role="img" aria-label="${esc(label)}: ${score ?? 'n/a'} of 10" width="120" height="120" viewBox="0 0 120 120">
<circle cx="60" cy="60" r="${r}" fill="none" stroke="#eaeef2" stroke-width="14"/>
<circle cx="60" cy="60" r="${r}" fill="none" stroke="${score === undefined ? '#d0d7de' : colour(score)}" stroke-width="14" stroke-dasharray="${filled.toFixed(1)} ${circumference.toFixed(1)}" transform="rotate(-90 60 60)"/>
<text x="60" y="66" text-anchor="middle" font-size="24" font-weight="600">${score === undefined ? '–' : score.toFixed(1)}</text></svg>
<figcaption>${esc(label)}<br><small>${esc(caption)}</small></figcaption></figure>`;
}

/** Horizontal bars, one per item, value 0–max. */
function bars(title: string, items: { label: string; value: number; text: string }[], max: number, colourOf: (v: number) => string, labelW = 230): string {
  if (items.length === 0) return '';
  const rowH = 24;
  const barW = labelW > 230 ? 240 : 360;
  const h = items.length * rowH + 8;
  const rows = items
    .map((it, i) => {
      const w = max > 0 ? Math.max(1, (it.value / max) * barW) : 1;
      const y = i * rowH + 4;
      return `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end" font-size="13">${esc(it.label)}</text>
<rect x="${labelW}" y="${y + 2}" width="${barW}" height="16" fill="#f6f8fa"/><rect class="bar" x="${labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="16" fill="${colourOf(it.value)}"/>
<text x="${labelW + barW + 8}" y="${y + 15}" font-size="13">${esc(it.text)}</text>`;
    })
    .join('\n');
  return `<figure class="chart"><figcaption>${esc(title)}</figcaption><svg role="img" aria-label="${esc(title)}" width="${labelW + barW + 80}" height="${h}" viewBox="0 0 ${labelW + barW + 80} ${h}">${rows}</svg></figure>`;
}

function eventTable(rows: QualityRow[]): string {
  const calibrated = rows.some((r) => r.calibratedScore !== undefined);
  const head = `<tr><th>Event</th><th>Events</th><th>Score</th>${calibrated ? '<th>Meta-calibrated</th>' : ''}<th>Weakest 10 %</th><th>With a click</th><th>Median click age</th></tr>`;
  const body = rows
    .map((r) => `<tr><td>${esc(r.eventName)}</td><td>${r.events}</td><td>${r.score.toFixed(1)}</td>${calibrated ? `<td>${r.calibratedScore?.toFixed(1) ?? '–'}</td>` : ''}<td>${r.p10Score.toFixed(1)}</td><td>${r.clickRate}%</td><td>${clickAge(r.medianClickAgeHours) || '–'}</td></tr>`)
    .join('');
  return `<table>${head}${body}</table>`;
}

const STATUS_COLOURS = { succeeded: '#1a7f37', partial: '#bf8700', failed: '#cf222e', pending: '#8c959f', unconfirmed: '#d0d7de' } as const;

/** Google's verdict on its requests: one stacked bar per event name, and the reasons it refused records. */
function requestVerdicts(d: DestinationQuality): string {
  const v = d.requests;
  if (!v) return '';
  const rows = v.byEvent;
  const w = 420;
  const svg = rows
    .map((r, i) => {
      let x = 230;
      const y = i * 26 + 4;
      const parts = (Object.keys(STATUS_COLOURS) as (keyof typeof STATUS_COLOURS)[]).map((k) => {
        const width = r.requests ? (r[k] / r.requests) * w : 0;
        const rect = width > 0 ? `<rect class="bar" x="${x.toFixed(1)}" y="${y + 2}" width="${width.toFixed(1)}" height="16" fill="${STATUS_COLOURS[k]}"><title>${k}: ${r[k]}</title></rect>` : '';
        x += width;
        return rect;
      });
      return `<text x="222" y="${y + 15}" text-anchor="end" font-size="13">${esc(r.eventName)} (${r.requests})</text>${parts.join('')}`;
    })
    .join('\n');
  const legend = (Object.keys(STATUS_COLOURS) as (keyof typeof STATUS_COLOURS)[]).map((k) => `<span class="key" style="background:${STATUS_COLOURS[k]}"></span>${k} ${v.total[k]}`).join(' · ');
  const reasons = bars('Records Google refused, by reason', v.failureReasons.slice(0, 8).map((r) => ({ label: r.reason, value: r.count, text: String(r.count) })), Math.max(0, ...v.failureReasons.map((r) => r.count)), () => '#cf222e', 470);
  return `<figure class="chart requests"><figcaption>Google’s verdict on its requests (Data Manager request status)</figcaption>
<svg role="img" aria-label="Google’s verdict per event name" width="${230 + w + 20}" height="${rows.length * 26 + 8}" viewBox="0 0 ${230 + w + 20} ${rows.length * 26 + 8}">${svg}</svg>
<p class="counts">${v.total.requests} requests carrying ${v.total.events} events: ${legend}</p></figure>
${reasons}`;
}

/** Pinterest's Event Quality Score: its rating, and its coverage per parameter and event type. */
function pinterestVerdict(scores: PinterestEqs[]): string {
  if (scores.length === 0) return '<p class="counts">Pinterest rated no events in this window.</p>';
  return scores
    .map((s) => {
      const parameters = [...new Set(s.components.map((c) => c.parameter))];
      const types = [...new Set(s.components.map((c) => c.eventType))];
      const cell = (p: string, t: string) => s.components.find((c) => c.parameter === p && c.eventType === t)?.coverage;
      const issues = s.components.flatMap((c) => c.issues.map((i) => `<li><b>${esc(c.eventType)}</b>, ${esc(c.parameter)}: ${esc(i.name)}${i.reason ? ` — ${esc(i.reason)}` : ''}</li>`));
      const status = s.overallStatus ?? 'no rating';
      return `<h3>Pinterest’s Event Quality Score: <span class="status ${esc(status.toLowerCase())}">${esc(status)}</span></h3>
<p class="counts">${esc([s.sourcePlatform, s.ingestionSource, s.lookbackPeriod && `last ${s.lookbackPeriod}`].filter(Boolean).join(' · '))}</p>
<table class="eqs"><tr><th>Event type</th>${parameters.map((p) => `<th>${esc(p)}</th>`).join('')}</tr>${types.map((t) => `<tr><td>${esc(t)}</td>${parameters.map((p) => `<td>${cell(p, t) === undefined ? '–' : `${cell(p, t)}%`}</td>`).join('')}</tr>`).join('')}</table>
${issues.length ? `<ul>${issues.join('')}</ul>` : ''}`;
    })
    .join('\n');
}

function section(d: DestinationQuality): string {
  const metaRemote = d.remote?.ok && 'events' in d.remote ? d.remote : undefined;
  const remoteScore = metaRemote ? mean(metaRemote.events.flatMap((e) => (e.compositeScore === undefined ? [] : [e.compositeScore]))) : undefined;
  const remoteCaption = !d.remote ? 'no platform score available' : metaRemote ? `Meta Event Match Quality (${metaRemote.events.length} web events)` : 'could not be read';
  const keyBars = Object.entries(d.total.keys).map(([k, v]) => ({ label: KEY_LABELS[k] ?? k, value: v, text: `${v}%` }));
  const scoreBars = d.byEvent.map((r) => ({ label: `${r.eventName} (${r.events})`, value: r.score, text: r.score.toFixed(1) }));
  const reasons = [
    ...d.weakReasons.map((w) => ({ label: w.reason, value: w.count, text: `${w.count} (${w.share}%)` })),
    ...d.skipReasons.map((s) => ({ label: `skipped: ${s.reason}`, value: s.count, text: String(s.count) })),
  ].slice(0, 10);
  const maxReason = Math.max(0, ...reasons.map((r) => r.value));
  const remote = d.remote && !d.remote.ok ? `<p class="warn">${esc(d.remote.message)}</p>` : '';
  const diagnostics = metaRemote ? metaRemote.events.flatMap((e) => e.diagnostics.map((g) => `<li><b>${esc(e.eventName)}</b>: ${esc(g.name)}${g.percentage !== undefined ? ` (${g.percentage}% of events)` : ''}${g.solution ? ` — ${esc(g.solution)}` : ''}</li>`)) : [];
  const calibrated = d.total.calibratedScore !== undefined ? gauge('Relay score, Meta-calibrated', d.total.calibratedScore, 'weights from Meta’s uplift figures') : '';
  return `<section><h2>${esc(d.destination)}</h2>
<p class="counts">${d.delivered} delivered · ${d.dryRun} dry-run · ${d.skipped} skipped · ${d.failed} failed${d.unscored ? ` · ${d.unscored} without a match record` : ''}</p>
<div class="gauges">${gauge('Relay score', d.total.events ? d.total.score : undefined, `${d.total.events} events, ${d.total.clickRate}% with a click`)}${calibrated}${d.destination === 'meta' ? gauge('Meta’s own score', remoteScore, remoteCaption) : ''}</div>
${remote}
${requestVerdicts(d)}
${d.remote?.ok && 'scores' in d.remote ? pinterestVerdict(d.remote.scores) : ''}
${bars('Share of events carrying each identifier', keyBars, 100, (v) => (v >= 80 ? '#1a7f37' : v >= 40 ? '#bf8700' : '#cf222e'))}
${bars('Score per event name (0–10)', scoreBars, 10, colour)}
${bars('Why events were weak or skipped', reasons, maxReason, () => '#8250df', 470)}
${diagnostics.length ? `<h3>Meta’s diagnostics</h3><ul>${diagnostics.join('')}</ul>` : ''}
${eventTable(d.byEvent)}
</section>`;
}

const mean = (xs: number[]) => (xs.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10 : undefined);

export function renderQualityHtml(report: QualityReport): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>conversion-relay match quality</title>
<style>body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:980px;color:#1f2328;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2.5rem}
.meta,.counts{color:#59636e}.gauges{display:flex;gap:2rem}.gauge{margin:0;text-align:center}.chart{margin:1.2rem 0}.chart figcaption{font-weight:600;margin-bottom:.3rem}
table{border-collapse:collapse;margin-top:1rem}th,td{border-bottom:1px solid #eaeef2;padding:.3rem .8rem;text-align:left}.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.6rem;border-radius:6px}
.key{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.25em;vertical-align:-.05em}.status{padding:.1em .5em;border-radius:4px;color:#fff;background:#cf222e}.status.good{background:#1a7f37}.status.fair{background:#bf8700}</style></head>
<body><h1>Match quality</h1><p class="meta">Events since ${esc(report.since)} · generated ${esc(report.generatedAt)} · ${esc(report.target)}</p>
<p>The relay scores each event it sends by the identifiers it carries (key names only; no customer data is in this report). Meta’s score follows Meta’s published guidance (and, where Meta’s Dataset Quality API answered, is also shown calibrated to the uplift figures Meta reports for this account); the others are coverage scores. 7 or more is good. Beside them, the platforms’ own verdicts where they offer one: Meta’s Event Match Quality, Google’s status of each request, Pinterest’s Event Quality Score.</p>
${report.destinations.map(section).join('\n')}
</body></html>
`;
}
