// The dashboard's markup, built from what the server sends: the plan and period summary, one card
// per metric (meter and daily chart) and the alerts. Pure functions from data to HTML strings.
import {
  esc,
  exactMoney,
  formatAgo,
  formatCompact,
  formatCount,
  formatDay,
  formatInstant,
  formatMoney,
  formatTimeLeft,
} from './format.js';

const money = (m) => `<span class="money" title="exact: ${esc(exactMoney(m))}">${esc(formatMoney(m))}</span>`;
const plural = (unit, n) => (n === 1 ? unit : `${unit}s`);
/** " (696 %)": a count's share of the included amount, for display only. */
const share = (v, included) => (included > 0 ? ` (${formatCount(Math.round((v / included) * 100))} %)` : '');

/** Plan, period (in the org's billing time zone; the end is exclusive), time left, overage totals. */
export function summaryHtml(usage, org, now) {
  const start = new Date(usage.period.start);
  const end = new Date(usage.period.end);
  const lastDay = new Date(end.getTime() - 1);
  const zone = org?.billingTimezone;
  return `
    <div><div class="label">Plan</div><div class="big" id="plan-name">${esc(usage.plan.name)}</div>
      <div class="muted">base price <span id="base-price">${money(usage.plan.basePrice)}</span> a period</div></div>
    <div><div class="label">Billing period${zone ? ` (${esc(zone)})` : ''}</div>
      <div class="big" id="period">${esc(formatDay(start, zone))} – ${esc(formatDay(lastDay, zone))}</div>
      <div class="muted" id="time-left" data-end="${end.getTime()}">${esc(formatTimeLeft(end.getTime() - now))}</div></div>
    <div><div class="label">Overage so far</div><div class="big" id="overage-total">${money(usage.overageTotal)}</div>
      <div class="muted">forecast at period end: <span id="projected-overage">${money(usage.projectedOverageTotal)}</span></div></div>`;
}

/**
 * A meter's track spans 0 .. max(included, hard limit): 100 % of the included amount fills it when
 * there is no hard limit above it. Usage past the track's end fills it and says by how much.
 */
function meterBar(m) {
  const included = m.included;
  const hard = m.hardLimit;
  const span = Math.max(included ?? 0, hard ?? 0);
  if (included === null || span === 0) return '';
  const at = (v) => Math.min(v / span, 1) * 100;
  const projected = m.forecast.projectedUsed;
  const cls = m.blocked ? 'blocked' : m.overageUnits > 0 ? 'over' : '';
  const tick = (cls, v, label) =>
    `<span class="tick ${cls}" style="left:${at(v)}%" title="${esc(label)}"></span>`;
  const ticks = [
    hard !== null && hard > included ? tick('included', included, `included ${formatCount(included)}`) : '',
    hard !== null ? tick('hard', hard, `hard limit ${formatCount(hard)}`) : '',
    `<span class="forecast${projected > span ? ' beyond' : ''}" style="left:${at(projected)}%"
      title="forecast at period end: ${esc(formatCount(projected))}"></span>`,
  ];
  return `<div class="bar ${cls}" role="meter" aria-valuemin="0" aria-valuemax="${span}" aria-valuenow="${Math.min(m.used, span)}"
    data-span="${span}"><div class="fill" style="width:${at(m.used)}%"></div>${ticks.join('')}</div>
    <div class="scale muted"><span>0</span><span>${hard !== null && hard >= included ? `hard limit ${esc(formatCount(hard))}` : `included ${esc(formatCount(included))}`}</span></div>`;
}

export function meterHtml(m, history) {
  const unit = m.metric.unit;
  const unlimited = m.included === null;
  const usedText = unlimited
    ? `${formatCount(m.used)} ${plural(unit, m.used)} · unlimited`
    : `${formatCount(m.used)} of ${formatCount(m.included)} included`;
  const percent =
    m.percentUsed === null ? '' : `<span class="percent">${formatCount(m.percentUsed)} %</span>`;
  const lines = [];
  if (m.hardLimit !== null) {
    lines.push(
      `<div class="hard-limit${m.blocked ? ' blocked' : ''}">Hard limit ${formatCount(m.hardLimit)}${m.blocked ? ' reached: more usage is refused' : ''}</div>`,
    );
  }
  if (!unlimited) {
    lines.push(
      `<div class="overage">Overage ${formatCount(m.overageUnits)} ${plural(unit, m.overageUnits)} · ${money(m.overageCost)}</div>`,
    );
    const f = m.forecast;
    lines.push(
      `<div class="forecast-text muted">Forecast at period end: ${formatCount(f.projectedUsed)}${share(f.projectedUsed, m.included)} · overage ${money(f.projectedOverageCost)}</div>`,
    );
  }
  return `<section class="card meter" data-metric="${esc(m.metric.key)}">
    <h2><span class="name">${esc(m.metric.name)}</span>${percent}</h2>
    <div class="used">${usedText}</div>
    ${meterBar(m)}${lines.join('')}
    ${chartHtml(history, m.metric)}</section>`;
}

/** Rounds an axis maximum up to 1, 2 or 5 times a power of ten (counts, not money). */
function niceMax(v) {
  if (v <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((k) => k * power).find((c) => c >= v);
}

const dayLabel = (day) =>
  new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' }).format(
    new Date(`${day}T00:00:00Z`),
  );

/** Daily usage as bars, with a y axis (0, half, top) in the metric's unit and days on the x axis. */
export function chartHtml(days, metric) {
  if (!days || days.length === 0) return '';
  const W = 320;
  const H = 140;
  const left = 44;
  const bottom = 118;
  const top = 12;
  const right = W - 6;
  const max = niceMax(Math.max(...days.map((d) => d.used)));
  const y = (v) => bottom - (v / max) * (bottom - top);
  const step = (right - left) / days.length;
  const yTicks = [0, max / 2, max]
    .map(
      (v) => `<line class="grid" x1="${left}" x2="${right}" y1="${y(v)}" y2="${y(v)}"/>
      <text class="y-tick" x="${left - 4}" y="${y(v) + 3}" text-anchor="end">${esc(formatCompact(v))}</text>`,
    )
    .join('');
  const xTicks = [0, Math.floor((days.length - 1) / 2), days.length - 1]
    .map(
      (i) =>
        `<text class="x-tick" x="${left + (i + 0.5) * step}" y="${bottom + 14}" text-anchor="middle">${esc(dayLabel(days[i].day))}</text>`,
    )
    .join('');
  const bars = days
    .map(
      (d, i) =>
        `<rect x="${left + i * step + 1}" width="${Math.max(step - 2, 1)}" y="${y(d.used)}" height="${bottom - y(d.used)}"><title>${esc(d.day)}: ${esc(formatCount(d.used))} ${esc(plural(metric.unit, d.used))}</title></rect>`,
    )
    .join('');
  const title = `${metric.name} per day, last ${days.length} days`;
  return `<figure class="chart"><figcaption>${esc(title)}</figcaption>
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${yTicks}
      <line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${bottom}"/>
      <line class="axis" x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}"/>${bars}${xTicks}
      <text class="y-title" transform="translate(10 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(plural(metric.unit, 2))}</text>
    </svg></figure>`;
}

/** Newest first; alerts fired together (one read crossing several thresholds) highest threshold first. */
export const byNewest = (a, b) =>
  new Date(b.firedAt).getTime() - new Date(a.firedAt).getTime() ||
  b.threshold - a.threshold ||
  (a.metric?.name ?? '').localeCompare(b.metric?.name ?? '');

export function alertHtml(a, now) {
  const fired = new Date(a.firedAt);
  let what;
  if (a.kind === 'BUDGET') {
    what = `<b class="subject">Overage budget</b> passed ${a.threshold} % of the ${money(a.budgetCap)} cap
      <span class="muted">· overage ${money(a.cost)} when it fired</span>`;
  } else {
    const unit = a.metric.unit;
    what = `<b class="subject">${esc(a.metric.name)}</b> passed ${a.threshold} % of ${formatCount(a.limit)} ${esc(plural(unit, a.limit))}
      (${formatCount((a.limit * a.threshold) / 100)})
      <span class="muted">· ${formatCount(a.used)} used when it fired</span>`;
  }
  return `<li data-alert-id="${esc(a.id)}"><time datetime="${esc(a.firedAt)}">${esc(formatInstant(fired))}
    <span class="muted">(${esc(formatAgo(now - fired.getTime()))})</span></time> ${what}</li>`;
}
