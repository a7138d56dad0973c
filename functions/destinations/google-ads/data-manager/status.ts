import type { FollowUpVerdict, PlatformReason, PlatformResponse } from '#destinations/types.ts';

/**
 * `GET /v1/requestStatus:retrieve?requestId=…` (REST reference; the query parameter is `requestId`, as Google's
 * generated clients send it), answered with `requestStatusPerDestination[] {requestStatus, errorInfo.errorCounts[]
 * {recordCount, reason}, …}`. Google's diagnostics guide: wait 30 minutes, then ask again with exponential backoff
 * until SUCCESS, PARTIAL_SUCCESS or FAILURE (the enum says FAILED: both accepted). Counts per reason only — no event
 * index — so a partial success cannot say which events failed.
 */
interface DestinationStatus {
  requestStatus?: string;
  errorInfo?: { errorCounts?: { recordCount?: string | number; reason?: string }[] };
  warningInfo?: { warningCounts?: { recordCount?: string | number; reason?: string }[] };
}

const reasonsOf = (list: { recordCount?: string | number; reason?: string }[] | undefined): PlatformReason[] =>
  (list ?? []).map((c) => ({ reason: c.reason ?? 'unknown reason', count: Number(c.recordCount) || 0 }));

const counts = (list: { recordCount?: string | number; reason?: string }[] | undefined) =>
  (list ?? []).map((c) => `${c.recordCount ?? '?'} × ${c.reason ?? 'unknown reason'}`).join(', ');

export function classifyRequestStatus(res: PlatformResponse, requestId: string): FollowUpVerdict {
  if (res.status === 401 || res.status === 429 || res.status >= 500) return { kind: 'pending', note: `HTTP ${res.status} from requestStatus:retrieve` };
  const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as { requestStatusPerDestination?: DestinationStatus[]; error?: { message?: string } };
  if (res.status !== 200) return { kind: 'accepted', unconfirmed: true, note: `Google accepted request ${requestId}; its status could not be read (HTTP ${res.status}: ${body.error?.message ?? ''})` };
  const [dest] = body.requestStatusPerDestination ?? [];
  const status = dest?.requestStatus ?? 'REQUEST_STATUS_UNKNOWN';
  const errors = counts(dest?.errorInfo?.errorCounts);
  const warnings = counts(dest?.warningInfo?.warningCounts);
  switch (status) {
    case 'SUCCESS':
      return { kind: 'accepted', note: `Google processed request ${requestId}: SUCCESS${warnings ? ` (warnings: ${warnings})` : ''}` };
    case 'FAILED':
    case 'FAILURE': {
      const reasons = (dest?.errorInfo?.errorCounts ?? []).map((c) => c.reason).filter(Boolean);
      return { kind: 'refused', error: { code: reasons.length === 1 ? reasons[0]! : 'REQUEST_FAILED', message: `Google processed request ${requestId} and refused it: ${errors || 'no reason given'}` }, reasons: reasonsOf(dest?.errorInfo?.errorCounts) };
    }
    case 'PARTIAL_SUCCESS':
      return { kind: 'partly', note: `Google processed request ${requestId}: PARTIAL_SUCCESS, refused ${errors || 'some events'} — Google does not say which events`, reasons: reasonsOf(dest?.errorInfo?.errorCounts) };
    default:
      return { kind: 'pending', note: status };
  }
}
