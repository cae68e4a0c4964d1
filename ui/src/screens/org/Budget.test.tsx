import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import i18n from '../../i18n';
import { reject } from '../../test/backend';
import type { OrgRequest } from '../../orgApi';
import { changes, openOrgConsole, orgServer, person } from '../../test/orgServer';
import { expectFieldError, typeInto } from '../../test/render';
import { user } from '../../test/user';

/** Alice has her own daily budget and the org's monthly one; bob has none at all. */
function serverWithBudgets() {
  const server = orgServer();
  server.state.users = [
    person('alice', 2_500_000_000, 'staff', {
      daily_budget_micros: 50_000_000,
      monthly_budget_micros: null,
      spent_today_micros: 12_500_000,
      spent_month_micros: 130_000_000,
    }),
    person('bob', 0, 'staff', { daily_budget_micros: 0, monthly_budget_micros: 0, spent_today_micros: 60_000_000, spent_month_micros: 60_000_000 }),
  ];
  return server;
}

const rowOf = (name: string) => screen.getAllByTestId('org-user-row').find((r) => r.getAttribute('data-user') === name)!;
const spend = (name: string, period: 'today' | 'month') => within(rowOf(name)).getByTestId(`budget-${period}`);

describe('org console: per-user budgets', () => {
  it('shows what each user spent today and this month against their own budget, the org default or none', async () => {
    serverWithBudgets();
    await openOrgConsole();
    await screen.findAllByTestId('org-user-row');
    expect(spend('alice', 'today')).toHaveTextContent('12.5 / 50');
    expect(spend('alice', 'month')).toHaveTextContent('130 / org default');
    expect(spend('bob', 'today')).toHaveTextContent('60 / no budget');
    expect(spend('bob', 'month')).toHaveTextContent('60 / no budget');
  });

  it('sets both budgets in one change: none, or an amount exactly as typed', async () => {
    const { backend, state } = serverWithBudgets();
    await openOrgConsole();
    await user.click(await screen.findByTestId('budget-edit-alice'));
    // The form opens with the budgets as they are.
    expect(await screen.findByTestId('budget-daily')).toHaveValue('50');
    expect(within(screen.getByTestId('budget-monthly-mode')).getByLabelText('Org default')).toBeChecked();
    expect(screen.queryByTestId('budget-monthly')).toBeNull();

    await user.click(within(screen.getByTestId('budget-daily-mode')).getByLabelText('No budget'));
    expect(screen.queryByTestId('budget-daily')).toBeNull();
    await user.click(within(screen.getByTestId('budget-monthly-mode')).getByLabelText('Own amount'));
    await typeInto('budget-monthly', '1000.0000001');
    await user.click(screen.getByTestId('budget-save'));
    await expectFieldError('budget-monthly', 'Enter a positive amount with at most 6 decimals');
    expect(changes(backend)).toEqual([]);

    await user.clear(screen.getByTestId('budget-monthly'));
    await typeInto('budget-monthly', '1000.000001');
    await user.click(screen.getByTestId('budget-save'));
    await waitFor(() => expect(spend('alice', 'month')).toHaveTextContent('130 / 1,000.000001'));
    expect(spend('alice', 'today')).toHaveTextContent('12.5 / no budget');
    expect(changes(backend)).toEqual([{ op: 'set_budget', user: 'alice', budget: { daily: '0', monthly: '1000.000001' } }]);
    expect(state.users[0]).toMatchObject({ daily_budget_micros: 0, monthly_budget_micros: 1_000_000_001 });
  });

  it('gives a user back the org default, and shows the server’s refusal in words', async () => {
    const { backend, call } = serverWithBudgets();
    await openOrgConsole();
    await user.click(await screen.findByTestId('budget-edit-bob'));
    await user.click(within(await screen.findByTestId('budget-daily-mode')).getByLabelText('Org default'));
    backend.on('org_admin', (args) =>
      (args.request as OrgRequest).op === 'set_budget' ? reject('bad_amount', 'the daily budget is above the monthly one') : call(args),
    );
    await user.click(screen.getByTestId('budget-save'));
    expect(await screen.findByText('The amount was not accepted: the daily budget is above the monthly one')).toBeInTheDocument();

    backend.on('org_admin', call);
    await user.click(screen.getByTestId('budget-save'));
    await waitFor(() => expect(spend('bob', 'today')).toHaveTextContent('60 / org default'));
    // The refused change and the one the server took: the same request both times.
    expect(changes(backend)).toEqual([
      { op: 'set_budget', user: 'bob', budget: { daily: null, monthly: '0' } },
      { op: 'set_budget', user: 'bob', budget: { daily: null, monthly: '0' } },
    ]);
  });

  it('speaks Chinese', async () => {
    serverWithBudgets();
    await act(() => i18n.changeLanguage('zh'));
    await openOrgConsole();
    await screen.findAllByTestId('org-user-row');
    expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toEqual(expect.arrayContaining(['今日 / 预算', '本月 / 预算']));
    expect(spend('alice', 'month')).toHaveTextContent('130 / 组织默认');
    expect(spend('bob', 'today')).toHaveTextContent('60 / 不限');
    await user.click(screen.getByTestId('budget-edit-alice'));
    expect(await screen.findByText('alice 的预算')).toBeInTheDocument();
    expect(within(screen.getByTestId('budget-daily-mode')).getByLabelText('单独设置')).toBeChecked();
    expect(screen.getByText('每月预算')).toBeInTheDocument();
  });
});
