import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Rate } from '../../api';
import { fakeBackend, RATE, session } from '../../test/backend';
import { expectFieldError, openAdminTab, renderWindow, typeInto } from '../../test/render';
import { user } from '../../test/user';

describe('admin: exchange rate', () => {
  it('shows the current rate and its history, newest first', async () => {
    fakeBackend({ admin_status: () => session() });
    renderWindow('admin');
    await openAdminTab('rate');
    expect(await screen.findByTestId('current-rate')).toHaveTextContent('1,000 credits per USD');
    const rows = await screen.findAllByTestId('rate-history-row');
    expect(rows.map((r) => r.textContent)).toEqual([
      expect.stringMatching(/500.*1,000.*admin.*new budget year/),
      expect.stringMatching(/—.*500.*seed.*initial rate/),
    ]);
  });

  it('requires a reason before changing the rate, then shows the stored change', async () => {
    let rate: Rate = RATE;
    const backend = fakeBackend({
      admin_status: () => session(),
      rate: () => rate,
      admin_set_rate: ({ rate: next, reason }) => {
        const change = { id: 3, old_rate: '1000', new_rate: String(next), changed_by: 'admin', reason: String(reason), changed_at: '2026-11-24T09:00:00Z' };
        rate = { credits_per_usd: change.new_rate, history: [change, ...RATE.history] };
        return change;
      },
    });
    renderWindow('admin');
    await openAdminTab('rate');

    await typeInto('rate-input', '1200.5');
    await user.click(screen.getByTestId('rate-submit'));
    await expectFieldError('rate-reason', 'Required');
    expect(backend.argsOf('admin_set_rate')).toEqual([]);

    await typeInto('rate-reason', '  vendor price change ');
    await user.click(screen.getByTestId('rate-submit'));
    expect(await screen.findByText('Rate changed from 1,000 to 1,200.5.')).toBeInTheDocument();
    expect(backend.argsOf('admin_set_rate')).toEqual([{ rate: '1200.5', reason: 'vendor price change' }]);
    await waitFor(() => expect(screen.getByTestId('current-rate')).toHaveTextContent('1,200.5 credits per USD'));
    expect(screen.getAllByTestId('rate-history-row')[0]).toHaveTextContent('vendor price change');
  });

  it('rejects a rate that is not a positive decimal', async () => {
    const backend = fakeBackend({ admin_status: () => session() });
    renderWindow('admin');
    await openAdminTab('rate');
    await typeInto('rate-input', '1e3');
    await typeInto('rate-reason', 'typo');
    await user.click(screen.getByTestId('rate-submit'));
    await expectFieldError('rate-input', /Enter a positive decimal number/);
    expect(backend.argsOf('admin_set_rate')).toEqual([]);
  });
});
