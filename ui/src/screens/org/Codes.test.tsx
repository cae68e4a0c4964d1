import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import i18n from '../../i18n';
import { expectFieldError, typeInto } from '../../test/render';
import { calls, openOrgConsole, orgServer, redemptionCode } from '../../test/orgServer';
import { user } from '../../test/user';

/** Three codes made before: one redeemed by alice, one expired unused, one still good. */
function serverWithCodes() {
  const server = orgServer();
  server.state.codes = [
    redemptionCode('c3', { expires_at: '2099-01-01T00:00:00Z' }),
    redemptionCode('c2', { expires_at: '2026-01-01T00:00:00Z', amount_micros: 12_500_000 }),
    redemptionCode('c1', { redeemed_by: 'alice', redeemed_at: '2026-12-01T09:15:00Z', entry_id: 'e7' }),
  ];
  return server;
}

const rowOf = (id: string) => screen.getAllByTestId('code-row').find((r) => r.getAttribute('data-code-id') === id)!;

describe('org console: redemption codes', () => {
  it('lists the codes newest first with what became of each: unused, redeemed by whom and when, or expired', async () => {
    const { backend } = serverWithCodes();
    await openOrgConsole('codes');
    await waitFor(() => expect(screen.getAllByTestId('code-row')).toHaveLength(3));
    expect(screen.getAllByTestId('code-row').map((r) => r.getAttribute('data-status'))).toEqual(['unused', 'expired', 'redeemed']);
    expect(rowOf('c3')).toHaveTextContent('Unused');
    expect(rowOf('c3')).toHaveTextContent('2099-01-01');
    expect(rowOf('c2')).toHaveTextContent('Expired');
    expect(rowOf('c2')).toHaveTextContent('12.5');
    expect(rowOf('c1')).toHaveTextContent('Redeemed');
    expect(rowOf('c1')).toHaveTextContent(/by alice at 2026-12-0\d/);
    expect(rowOf('c1')).toHaveTextContent('never');
    expect(rowOf('c1')).toHaveTextContent('onboarding');
    expect(calls(backend)).toContainEqual({ op: 'redemption_codes' });
  });

  it('makes a batch and shows its codes this once, with a copy button for all of them and the saved CSV', async () => {
    const { backend } = serverWithCodes();
    await openOrgConsole('codes');
    await screen.findAllByTestId('code-row');
    await user.clear(screen.getByTestId('codes-count'));
    await typeInto('codes-count', '3');
    await typeInto('codes-amount', '0');
    await typeInto('codes-reason', 'offsite quiz');
    await user.click(screen.getByTestId('codes-submit'));
    await expectFieldError('codes-amount', 'Enter a positive amount with at most 6 decimals');
    expect(backend.argsOf('org_admin_create_codes')).toEqual([]);

    await user.clear(screen.getByTestId('codes-amount'));
    await typeInto('codes-amount', '25.000001');
    await typeInto('codes-valid-days', '7');
    await user.click(screen.getByTestId('codes-submit'));

    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('3 codes of 25.000001 credits');
    expect(dialog).toHaveTextContent('Shown this once: the server keeps only a hash of each code.');
    expect(dialog).toHaveTextContent('Each code works once, until 2026-12-09');
    expect(within(dialog).getByTestId('new-codes').textContent).toBe('RDM-1-QX7P\nRDM-2-QX7P\nRDM-3-QX7P');
    expect(within(dialog).getByTestId('codes-csv-path')).toHaveTextContent('/home/u/Downloads/tokendesk-codes-0193-batch-00000004.csv');
    expect(backend.argsOf('org_admin_create_codes')).toEqual([{ count: 3, amount: '25.000001', reason: 'offsite quiz', validDays: 7 }]);

    // The copy button puts every code on the clipboard, one a line.
    let copied = '';
    const execCommand = document.execCommand;
    document.execCommand = vi.fn(() => {
      copied = document.getSelection()?.toString() ?? '';
      return true;
    });
    try {
      await user.click(within(dialog).getByRole('button', { name: 'Copy all codes' }));
    } finally {
      document.execCommand = execCommand;
    }
    expect(copied).toBe('RDM-1-QX7P\nRDM-2-QX7P\nRDM-3-QX7P');

    await user.click(within(dialog).getByTestId('codes-done'));
    await waitFor(() => expect(screen.getAllByTestId('code-row')).toHaveLength(6));
    expect(screen.queryByText('RDM-1-QX7P')).toBeNull();
  });

  it('makes codes that never expire when no validity is given', async () => {
    const { backend } = orgServer();
    await openOrgConsole('codes');
    await typeInto('codes-amount', '100');
    await typeInto('codes-reason', 'welcome');
    await user.click(screen.getByTestId('codes-submit'));
    expect(await screen.findByRole('dialog')).toHaveTextContent('Each code works once; they do not expire.');
    expect(backend.argsOf('org_admin_create_codes')).toEqual([{ count: 1, amount: '100', reason: 'welcome', validDays: null }]);
  });

  it('speaks Chinese', async () => {
    serverWithCodes();
    await act(() => i18n.changeLanguage('zh'));
    await openOrgConsole('codes');
    expect(screen.getByTestId('org-tab-codes')).toHaveTextContent('兑换码');
    await waitFor(() => expect(screen.getAllByTestId('code-row')).toHaveLength(3));
    expect(rowOf('c3')).toHaveTextContent('未使用');
    expect(rowOf('c2')).toHaveTextContent('已过期');
    expect(rowOf('c1')).toHaveTextContent(/已兑换alice 于 2026-12-0\d/);
    expect(rowOf('c1')).toHaveTextContent('长期有效');
    await typeInto('codes-amount', '5');
    await typeInto('codes-reason', '年会');
    await user.click(screen.getByTestId('codes-submit'));
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('1 个兑换码，每个 5 积分');
    expect(dialog).toHaveTextContent('只显示这一次：服务器只保存每个兑换码的哈希值。');
    expect(within(dialog).getByRole('button', { name: '复制全部兑换码' })).toBeInTheDocument();
    expect(dialog).toHaveTextContent('已另存为 CSV：');
  });
});
