import { describe, expect, it } from 'vitest';
import { orgApi } from './orgApi';
import { fakeBackend } from './test/backend';
import type { Report } from './orgApi';

const report: Report = { by: 'day', from: '2026-12-01', to: null, user: null, app: 'Support bot', model: null, rows: [] };

describe('orgApi: the report query', () => {
  it('sends only the filters that are set, to the report and to its CSV', async () => {
    const backend = fakeBackend({
      org_admin: ({ request }) => ({ op: (request as { op: string }).op, answer: report }),
      org_admin_export_report: () => ({ path: '/home/u/Downloads/tokendesk-org-report.csv', rows: 0 }),
    });
    const query = { by: 'day' as const, from: '2026-12-01', to: undefined, user: '', app: 'Support bot', model: null as unknown as string };
    expect(await orgApi.report(query)).toEqual(report);
    await orgApi.exportReport(query);
    const sent = { by: 'day', from: '2026-12-01', app: 'Support bot' };
    expect(backend.argsOf('org_admin')).toStrictEqual([{ request: { op: 'report', query: sent } }]);
    expect(backend.argsOf('org_admin_export_report')).toStrictEqual([{ query: sent }]);
  });

  it('refuses an answer to another operation than the one asked', async () => {
    fakeBackend({ org_admin: () => ({ op: 'users', answer: [] }) });
    await expect(orgApi.rate()).rejects.toThrow('org_admin answered users to rate');
  });
});
