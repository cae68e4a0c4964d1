import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { BalanceKind } from '../../api';
import { microsText } from '../../format';
import { ACCOUNTS, charge, fakeBackend, micros, page, session } from '../../test/backend';
import { expectFieldError, openAdminTab, renderWindow, typeInto } from '../../test/render';
import { user } from '../../test/user';

/** Like the ledger: a grant, top-up or adjustment is an entry of that amount. */
function adjustLikeRust({ kind, amount }: Record<string, unknown>) {
  return charge('new', microsText(-micros(String(amount))), { kind: kind === 'adjust' ? 'adjustment' : (kind as Exclude<BalanceKind, 'adjust'>), usage: null });
}

describe('admin: users and balances', () => {
  it('lists accounts with balances and grants credits to the staff account, prefilled', async () => {
    const backend = fakeBackend({ admin_status: () => session(), admin_adjust_balance: adjustLikeRust });
    renderWindow('admin');
    await openAdminTab('users');
    const alice = (await screen.findAllByTestId('account-row')).find((r) => r.getAttribute('data-account') === 'alice')!;
    expect(alice).toHaveTextContent('9,960.675');
    await waitFor(() => expect(screen.getByTestId('grant-user')).toHaveValue('alice'));

    await typeInto('grant-amount', '50.25');
    await typeInto('grant-reason', 'monthly budget');
    await user.click(screen.getByTestId('grant-submit'));
    expect(await screen.findByText('Granted 50.25 credits to alice.')).toBeInTheDocument();
    expect(backend.argsOf('admin_adjust_balance')).toEqual([{ user: 'alice', kind: 'grant', amount: '50.25', reason: 'monthly budget' }]);
    expect(screen.getByTestId('grant-amount')).toHaveValue('');
    // The balances follow ledger-changed.
    await waitFor(() => expect(backend.argsOf('accounts')).toHaveLength(2));
  });

  it('tops up and adjusts with the chosen kind; only an adjustment may be negative', async () => {
    const backend = fakeBackend({ admin_status: () => session(), admin_adjust_balance: adjustLikeRust });
    renderWindow('admin');
    await openAdminTab('users');
    await waitFor(() => expect(screen.getByTestId('grant-user')).toHaveValue('alice'));
    const kinds = () => within(screen.getByTestId('balance-kind'));

    await user.click(kinds().getByLabelText('Top-up'));
    await typeInto('grant-amount', '-5');
    await typeInto('grant-reason', 'invoice 42');
    await user.click(screen.getByTestId('grant-submit'));
    await expectFieldError('grant-amount', /Enter a positive amount/);
    await user.clear(screen.getByTestId('grant-amount'));
    await typeInto('grant-amount', '200');
    await user.click(screen.getByTestId('grant-submit'));
    expect(await screen.findByText('Topped up 200 credits for alice.')).toBeInTheDocument();

    await user.click(kinds().getByLabelText('Adjust'));
    await typeInto('grant-amount', '-12.5');
    await typeInto('grant-reason', 'double charge');
    await user.click(screen.getByTestId('grant-submit'));
    expect(await screen.findByText('Adjusted alice by -12.5 credits.')).toBeInTheDocument();

    expect(backend.argsOf('admin_adjust_balance')).toEqual([
      { user: 'alice', kind: 'topup', amount: '200', reason: 'invoice 42' },
      { user: 'alice', kind: 'adjust', amount: '-12.5', reason: 'double charge' },
    ]);
  });

  it("shows an account's ledger and reverses an entry with a reason", async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      history: () => page([charge('e2', '4.5'), charge('e1', '34.825')]),
      admin_reverse: ({ entryId }) => charge(`rev-${entryId}`, '-4.5', { kind: 'reversal', usage: null }),
    });
    renderWindow('admin');
    await openAdminTab('users');
    await user.click(await screen.findByTestId(`user-ledger-${ACCOUNTS[1].name}`));
    await screen.findAllByTestId('charge-row');
    expect(backend.argsOf('history')).toEqual([{ query: { limit: 20, account: 'alice' } }]);

    await user.click(screen.getByTestId('reverse-e2'));
    await user.click(await screen.findByTestId('reverse-submit'));
    await expectFieldError('reverse-reason', 'Required');
    await typeInto('reverse-reason', 'charged twice');
    backend.on('history', () => page([charge('rev-e2', '-4.5', { kind: 'reversal', usage: null }), charge('e2', '4.5'), charge('e1', '34.825')]));
    await user.click(screen.getByTestId('reverse-submit'));

    await waitFor(() => expect(backend.argsOf('admin_reverse')).toEqual([{ entryId: 'e2', reason: 'charged twice' }]));
    // ledger-changed: the drawer shows the reversal, which itself cannot be reversed.
    await waitFor(() => expect(screen.getAllByTestId('charge-row')).toHaveLength(3));
    expect(screen.queryByTestId('reverse-rev-e2')).toBeNull();
  });
});
