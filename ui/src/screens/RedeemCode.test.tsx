import { act, screen, waitFor, within } from '@testing-library/react';
import { emit } from '@tauri-apps/api/event';
import { describe, expect, it } from 'vitest';
import type { SyncStatus } from '../api';
import i18n from '../i18n';
import { fakeBackend, monitor, reject, syncStatus } from '../test/backend';
import { renderWindow, typeInto } from '../test/render';
import { user } from '../test/user';

/** An enrolled device's dashboard; `redeem_code` knows one good code, one used and nothing else. */
function enrolled(sync: Partial<SyncStatus> = {}) {
  return fakeBackend({
    way_in: () => ({ mode: 'org', suggested_server: null, offer_island: true, offer_demo: true }),
    monitor_status: () => monitor({ sync: syncStatus(sync) }),
    redeem_code: ({ code }) => {
      if (code === 'USED-0001') reject('redemption_used', 'code USED-0001 was redeemed on 2026-12-01');
      if (code === 'OFFLINE-1') reject('unreachable', 'cannot reach the org server: connection refused');
      if (code !== 'RDM-1-QX7P') reject('redemption_invalid', 'no such code, or it expired');
      return { entry_id: 'e-redeemed', amount_micros: 50_000_000, balance_micros: 10_010_675_000 };
    },
  });
}

const redeem = async (code: string) => {
  const field = await screen.findByTestId('redeem-code');
  await user.clear(field);
  await typeInto('redeem-code', code);
  await user.click(screen.getByTestId('redeem-submit'));
};

describe('dashboard: redeeming a code from the org', () => {
  it('is offered only on an enrolled device that is not revoked', async () => {
    fakeBackend({ monitor_status: () => monitor({ sync: null }) });
    const { unmount } = renderWindow('dashboard');
    await screen.findByTestId('monitor-status');
    expect(screen.queryByTestId('redeem-open')).toBeNull();
    unmount();

    enrolled({ revoked: true });
    renderWindow('dashboard');
    await screen.findByTestId('org-sync');
    expect(screen.queryByTestId('redeem-open')).toBeNull();
    await act(() => emit('monitor', monitor({ sync: syncStatus() })));
    expect(await screen.findByTestId('redeem-open')).toHaveTextContent('Redeem a code');
  });

  it('redeems a code, says what it added, and refreshes the balance', async () => {
    const backend = enrolled();
    renderWindow('dashboard');
    await user.click(await screen.findByTestId('redeem-open'));
    const before = backend.argsOf('dashboard').length;
    await redeem('  RDM-1-QX7P ');
    expect(await screen.findByText('Added 50 credits. Your balance is now 10,010.675.')).toBeInTheDocument();
    expect(backend.argsOf('redeem_code')).toEqual([{ code: 'RDM-1-QX7P' }]);
    await waitFor(() => expect(backend.argsOf('dashboard').length).toBeGreaterThan(before));
    // Ready for the next code.
    expect(screen.getByTestId('redeem-code')).toHaveValue('');
  });

  it('says whole why a code was not redeemed: unknown or expired, used already, or the server offline', async () => {
    enrolled();
    renderWindow('dashboard');
    await user.click(await screen.findByTestId('redeem-open'));
    const dialog = await screen.findByRole('dialog');
    await redeem('NOPE-0000');
    expect(await within(dialog).findByText('This code is not valid: it is unknown, or it has expired.')).toBeInTheDocument();
    await redeem('USED-0001');
    expect(await within(dialog).findByText('This code has already been redeemed.')).toBeInTheDocument();
    await redeem('OFFLINE-1');
    expect(await within(dialog).findByText('The org server cannot be reached, so the code was not redeemed. Try again when this computer is online.')).toBeInTheDocument();
    expect(within(dialog).getAllByRole('alert')).toHaveLength(1);
  });

  it('speaks Chinese', async () => {
    enrolled();
    await act(() => i18n.changeLanguage('zh'));
    renderWindow('dashboard');
    const open = await screen.findByTestId('redeem-open');
    expect(open).toHaveTextContent('使用兑换码');
    await user.click(open);
    await redeem('USED-0001');
    expect(await screen.findByText('此兑换码已被兑换过。')).toBeInTheDocument();
    await redeem('NOPE-0000');
    expect(await screen.findByText('兑换码无效：不存在或已过期。')).toBeInTheDocument();
    await redeem('OFFLINE-1');
    expect(await screen.findByText('连不上组织服务器，兑换码尚未兑换。请在本机联网后重试。')).toBeInTheDocument();
    await redeem('RDM-1-QX7P');
    expect(await screen.findByText('已到账 50 积分，当前余额 10,010.675。')).toBeInTheDocument();
  });
});

describe('dashboard: the budget of an enrolled user', () => {
  const budget = { daily_limit_micros: 50_000_000, monthly_limit_micros: 0, spent_today_micros: 12_500_000, spent_month_micros: 130_000_000 };

  it('shows what was spent against each budget that applies, none when a limit is 0, and follows the monitor', async () => {
    enrolled({ budget });
    renderWindow('dashboard');
    expect(await screen.findByTestId('org-budget-today')).toHaveTextContent('Budget today: 12.5 / 50');
    expect(screen.queryByTestId('org-budget-month')).toBeNull();

    await act(() => emit('monitor', monitor({ sync: syncStatus({ budget: { ...budget, monthly_limit_micros: 100_000_000 } }) })));
    expect(screen.getByTestId('org-budget-month')).toHaveTextContent('Budget this month: 130 / 100');
    await act(() => emit('monitor', monitor({ sync: syncStatus({ budget: null }) })));
    expect(screen.queryByTestId('org-budget-today')).toBeNull();
    expect(screen.queryByTestId('org-budget-month')).toBeNull();
  });

  it('shows nothing when the shell sends no budget at all', async () => {
    enrolled();
    renderWindow('dashboard');
    await screen.findByTestId('org-sync');
    expect(screen.queryByTestId('org-budget-today')).toBeNull();
  });

  it('speaks Chinese', async () => {
    enrolled({ budget: { ...budget, monthly_limit_micros: 500_000_000 } });
    await act(() => i18n.changeLanguage('zh'));
    renderWindow('dashboard');
    expect(await screen.findByTestId('org-budget-today')).toHaveTextContent('今日预算：12.5 / 50');
    expect(screen.getByTestId('org-budget-month')).toHaveTextContent('本月预算：130 / 500');
  });
});
