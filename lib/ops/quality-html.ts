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
  const head = '<tr><th>Event</th><th>Events</th><th>Score</th><th>Weakest 10 %</th><th>With a click</th><th>Median click age</th></tr>';
  const body = rows.map((r) => `<tr><td>${esc(r.eventName)}</td><td>${r.events}</td><td>${r.score.toFixed(1)}</td><td>${r.p10Score.toFixed(1)}</td><td>${r.clickRate}%</td><td>${clickAge(r.medianClickAgeHours) || '–'}</td></tr>`).join('');
  return `<table>${head}${body}</table>`;
}

function section(d: DestinationQuality): string {
  const remoteScore = d.remote?.ok ? mean(d.remote.events.flatMap((e) => (e.compositeScore === undefined ? [] : [e.compositeScore]))) : undefined;
  const remoteCaption = !d.remote ? 'no platform score available' : d.remote.ok ? `Meta Event Match Quality (${d.remote.events.length} web events)` : 'could not be read';
  const keyBars = Object.entries(d.total.keys).map(([k, v]) => ({ label: KEY_LABELS[k] ?? k, value: v, text: `${v}%` }));
  const scoreBars = d.byEvent.map((r) => ({ label: `${r.eventName} (${r.events})`, value: r.score, text: r.score.toFixed(1) }));
  const reasons = [
    ...d.weakReasons.map((w) => ({ label: w.reason, value: w.count, text: `${w.count} (${w.share}%)` })),
    ...d.skipReasons.map((s) => ({ label: `skipped: ${s.reason}`, value: s.count, text: String(s.count) })),
  ].slice(0, 10);
  const maxReason = Math.max(0, ...reasons.map((r) => r.value));
  const remote = d.remote && !d.remote.ok ? `<p class="warn">${esc(d.remote.message)}</p>` : '';
  const diagnostics = d.remote?.ok ? d.remote.events.flatMap((e) => e.diagnostics.map((g) => `<li><b>${esc(e.eventName)}</b>: ${esc(g.name)}${g.percentage !== undefined ? ` (${g.percentage}% of events)` : ''}${g.solution ? ` — ${esc(g.solution)}` : ''}</li>`)) : [];
  return `<section><h2>${esc(d.destination)}</h2>
<p class="counts">${d.delivered} delivered · ${d.dryRun} dry-run · ${d.skipped} skipped · ${d.failed} failed${d.unscored ? ` · ${d.unscored} without a match record` : ''}</p>
<div class="gauges">${gauge('Relay score', d.total.events ? d.total.score : undefined, `${d.total.events} events, ${d.total.clickRate}% with a click`)}${d.destination === 'meta' ? gauge('Meta’s own score', remoteScore, remoteCaption) : ''}</div>
${remote}
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
table{border-collapse:collapse;margin-top:1rem}th,td{border-bottom:1px solid #eaeef2;padding:.3rem .8rem;text-align:left}.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.6rem;border-radius:6px}</style></head>
<body><h1>Match quality</h1><p class="meta">Events since ${esc(report.since)} · generated ${esc(report.generatedAt)} · ${esc(report.target)}</p>
<p>The relay scores each event it sends by the identifiers it carries (key names only; no customer data is in this report). Meta’s score follows Meta’s published guidance; the others are coverage scores. 7 or more is good.</p>
${report.destinations.map(section).join('\n')}
</body></html>
`;
}
