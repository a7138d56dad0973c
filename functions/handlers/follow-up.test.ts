import { describe, expect, it } from 'vitest';
import { classifyRequestStatus } from '#destinations/google-ads/data-manager/status.ts';
import { platformVerdict } from './follow-up.ts';

/**
 * What the ledger keeps of Google's answer to requestStatus:retrieve (the quality report tallies it), from the
 * answers its REST reference documents: `requestStatusPerDestination[]{requestStatus, errorInfo.errorCounts[]}`.
 */
const answer = (requestStatus: string, errorCounts?: { recordCount: string; reason: string }[]) => ({
  status: 200,
  headers: {},
  body: { requestStatusPerDestination: [{ requestStatus, ...(errorCounts && { errorInfo: { errorCounts } }) }] },
});
const verdictOf = (res: Parameters<typeof classifyRequestStatus>[0]) => platformVerdict(classifyRequestStatus(res, 'req-1'), 'req-1');

describe('the platform verdict a Data Manager status check leaves on the ledger', () => {
  it('SUCCESS → succeeded, without reasons', () => {
    expect(verdictOf(answer('SUCCESS'))).toEqual({ requestId: 'req-1', status: 'succeeded' });
  });

  it('PARTIAL_SUCCESS and FAILURE keep Google’s count of refused records per reason', () => {
    const counts = [
      { recordCount: '2', reason: 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND' },
      { recordCount: '1', reason: 'PROCESSING_ERROR_REASON_INVALID_GCLID' },
    ];
    const reasons = [
      { reason: 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND', count: 2 },
      { reason: 'PROCESSING_ERROR_REASON_INVALID_GCLID', count: 1 },
    ];
    expect(verdictOf(answer('PARTIAL_SUCCESS', counts))).toEqual({ requestId: 'req-1', status: 'partial', reasons });
    expect(verdictOf(answer('FAILURE', counts))).toEqual({ requestId: 'req-1', status: 'failed', reasons });
    expect(verdictOf(answer('FAILED', counts.slice(0, 1)))).toEqual({ requestId: 'req-1', status: 'failed', reasons: reasons.slice(0, 1) });
  });

  it('a status that cannot be read, or none final after the last check → unconfirmed', () => {
    expect(verdictOf({ status: 404, headers: {}, body: { error: { message: 'Requested entity was not found.' } } })).toEqual({ requestId: 'req-1', status: 'unconfirmed' });
    expect(verdictOf(answer('PROCESSING'))).toEqual({ requestId: 'req-1', status: 'unconfirmed' });
  });
});
