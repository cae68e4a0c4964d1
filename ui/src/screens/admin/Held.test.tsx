import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { charge, fakeBackend, held, micros, reject, session } from '../../test/backend';
import { openAdminTab, renderWindow, typeInto } from '../../test/render';
import { user } from '../../test/user';

describe('admin: held and rejected events', () => {
  it('lists pending events, amount or unpriced, and approves one with a note and rejects one without', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_approve_held: () => charge('h1-entry', '900'),
      admin_reject_held: ({ id }) => held(String(id), { status: 'rejected' }),
    });
    renderWindow('admin');
    await openAdminTab('held');
    const [capped, unpriced] = await screen.findAllByTestId('held-row');
    expect(capped).toHaveTextContent('Above cap');
    expect(capped).toHaveTextContent('msg-h1');
    expect(capped).toHaveTextContent('900');
    expect(capped).toHaveTextContent('900 credits is above the cap of 500');
    expect(unpriced).toHaveTextContent('No price');
    expect(unpriced).toHaveTextContent('unpriced');
    expect(within(capped).queryByTestId('held-priced-as')).toBeNull();
    expect(backend.argsOf('held_events')).toEqual([{ all: false }]);

    await user.click(screen.getByTestId('held-approve-h1'));
    await typeInto('held-note', 'expected: long report');
    await user.click(screen.getByTestId('held-confirm'));
    // The amount the row showed goes with the approval: Rust charges that or nothing.
    await waitFor(() => expect(backend.argsOf('admin_approve_held')).toEqual([{ id: 'h1', note: 'expected: long report', shownMicros: 900_000_000 }]));

    await user.click(screen.getByTestId('held-reject-h2'));
    await user.click(await screen.findByTestId('held-confirm'));
    await waitFor(() => expect(backend.argsOf('admin_reject_held')).toEqual([{ id: 'h2', note: null }]));
    // Each decision changed the ledger: the list was fetched again.
    await waitFor(() => expect(backend.argsOf('held_events').length).toBeGreaterThanOrEqual(3));

    await user.click(screen.getByTestId('held-show-all'));
    await waitFor(() => expect(backend.argsOf('held_events').at(-1)).toEqual({ all: true }));
  });

  it('shows the new amount when the price moved, and approves that one', async () => {
    let amount = '900';
    const backend = fakeBackend({
      admin_status: () => session(),
      held_events: () => [held('h1', { amount, amount_micros: Number(micros(amount)) })],
      admin_approve_held: ({ shownMicros }) => {
        if (shownMicros !== Number(micros(amount))) reject('amount_changed', `held event h1 now costs ${amount} credits, not the 900 shown`);
        return charge('h1-entry', amount);
      },
    });
    renderWindow('admin');
    await openAdminTab('held');
    expect(await screen.findByTestId('held-row')).toHaveTextContent('900');
    amount = '1800';
    await user.click(screen.getByTestId('held-approve-h1'));
    await user.click(screen.getByTestId('held-confirm'));
    expect(await screen.findByText(/now costs 1800 credits/)).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('held-row')).toHaveTextContent('1,800'));
    await user.click(screen.getByTestId('held-confirm'));
    await waitFor(() => expect(backend.argsOf('admin_approve_held').map((a) => a.shownMicros)).toEqual([900_000_000, 1_800_000_000]));
  });

  it('logs rejected input with its code and reason, the payload in an expandable row', async () => {
    fakeBackend({ admin_status: () => session() });
    renderWindow('admin');
    await openAdminTab('held');
    const row = await screen.findByTestId('rejected-row');
    expect(row).toHaveTextContent('bad_usage');
    expect(row).toHaveTextContent('negative token count');
    expect(row).toHaveTextContent('relay');
    expect(screen.queryByText('{"usage":{"prompt_tokens":-5}}')).toBeNull();
    await user.click(within(row).getByRole('button', { name: 'Expand row' }));
    expect(await screen.findByText('{"usage":{"prompt_tokens":-5}}')).toBeInTheDocument();
  });

  it('names the model a held simulation was priced as', async () => {
    fakeBackend({ admin_status: () => session(), held_events: () => [held('h3', { priced_as: 'gpt-4o' })] });
    renderWindow('admin');
    await openAdminTab('held');
    const row = await screen.findByTestId('held-row');
    expect(within(row).getByTestId('held-priced-as')).toHaveTextContent('as gpt-4o');
  });
});
