import { emit } from '@tauri-apps/api/event';
import { act, screen, waitFor, within } from '@testing-library/react';
import dayjs from 'dayjs';
import { describe, expect, it } from 'vitest';
import type { Dashboard, SideCall } from '../api';
import { charge, chargeEvent, dashboard, fakeBackend, monitor, page } from '../test/backend';
import { pickOption, renderWindow } from '../test/render';
import { user } from '../test/user';

const rowIds = () => screen.getAllByTestId('charge-row').map((r) => r.getAttribute('data-entry-id'));

/** A charge priced by Dify's reported price: no model, no price snapshot. */
const difyPriced = charge('d1', '7', {
  usage: { ...charge('d1', '7').usage!, pricing: 'dify_price', model: null, price: null, usd_cost: '0.007', dify_total_price: '0.007', dify_currency: 'USD' },
});

describe('dashboard window', () => {
  it('shows balance, today, month, breakdowns, monitor status and the charge list from the commands', async () => {
    const backend = fakeBackend({
      history: () => page([charge('e2', '4.5'), charge('e1', '34.825', { usage: { ...charge('e1', '0').usage!, estimated: true } })]),
    });
    renderWindow('dashboard');

    expect(await screen.findByTestId('balance')).toHaveTextContent(/^9960\.675$/);
    expect(screen.getByText('≈ $9.96')).toBeInTheDocument();
    const today = screen.getByTestId('today');
    expect(within(today).getByText('39.325')).toBeInTheDocument();
    expect(within(today).getByText('12,345')).toBeInTheDocument();
    expect(within(screen.getByTestId('month')).getByText('12')).toBeInTheDocument();
    expect((await screen.findAllByTestId('by-model-row')).map((r) => r.textContent)).toEqual(['gpt-4o10000', "Dify's reported price39.32500"]);
    // month_by_app keys are app ids; the name comes from apps().
    await waitFor(() => expect(screen.getByTestId('by-app-row')).toHaveTextContent(/^Support bot139\.325/));
    expect(screen.getByTestId('spend-chart')).toHaveAccessibleName(/over the last 0 days/);

    expect(rowIds()).toEqual(['e2', 'e1']);
    const [newest, older] = screen.getAllByTestId('charge-row');
    expect(within(newest).getByText('-4.5')).toBeInTheDocument();
    expect(within(newest).getByText('1,033')).toBeInTheDocument();
    expect(within(newest).queryByText('estimated')).toBeNull();
    expect(within(older).getByText('estimated')).toBeInTheDocument();

    const status = await screen.findByTestId('monitor-status');
    expect(status).toHaveTextContent('Chat connected');
    expect(status).toHaveTextContent('Metering on');
    expect(screen.getByTestId('monitor-last-send')).toHaveTextContent('Last send check: 2026-11-24');
    expect(screen.getByTestId('monitor-last-send')).toHaveTextContent('allowed');
    expect(status).toHaveTextContent('Demo');
    expect(screen.queryByTestId('low-balance')).toBeNull();
    expect(backend.argsOf('history')).toEqual([{ query: { limit: 20 } }]);
  });

  it('refetches the summary and the first history page on charge and ledger-changed events, keeping loaded pages', async () => {
    const backend = fakeBackend({ history: () => page([charge('e2', '4.5')], 'c1') });
    renderWindow('dashboard');
    await screen.findAllByTestId('charge-row');

    backend.on('history', () => page([charge('e1', '34.825')]));
    await user.click(await screen.findByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(rowIds()).toEqual(['e2', 'e1']));
    expect(backend.argsOf('history')[1]).toEqual({ query: { limit: 20, cursor: 'c1' } });
    expect(screen.getByText('All entries loaded')).toBeInTheDocument();

    backend.on('dashboard', () => dashboard({ balance: '9956.175', balance_micros: 9_956_175_000 }));
    backend.on('history', () => page([charge('e3', '4.5'), charge('e2', '4.5')], 'c2'));
    await act(() => emit('charge', chargeEvent()));

    await waitFor(() => expect(screen.getByTestId('balance')).toHaveTextContent(/^9956\.175$/));
    await waitFor(() => expect(rowIds()).toEqual(['e3', 'e2', 'e1']));
    expect(backend.argsOf('dashboard')).toHaveLength(2);
    expect(backend.argsOf('history')[2]).toEqual({ query: { limit: 20 } });
    // The older page was already loaded to the end: no "load more" for a cursor it has passed.
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();

    // An admin grant elsewhere: no charge event, only ledger-changed.
    backend.on('dashboard', () => dashboard({ balance: '10056.175', balance_micros: 10_056_175_000 }));
    await act(() => emit('ledger-changed', null));
    await waitFor(() => expect(screen.getByTestId('balance')).toHaveTextContent(/^10056\.175$/));
    expect(backend.argsOf('history')).toHaveLength(4);
  });

  it('filters the history by app, model and date range, exports the same filter, and says where the file went', async () => {
    const backend = fakeBackend({ export_history_csv: () => ({ path: '/home/alice/Downloads/tokendesk-history.csv', rows: 1234 }) });
    renderWindow('dashboard');
    await screen.findAllByTestId('charge-row');

    await pickOption('history-filter-app', 'Support bot');
    await waitFor(() => expect(backend.argsOf('history').at(-1)).toEqual({ query: { limit: 20, app_id: 2 } }));
    await pickOption('history-filter-model', 'gpt-4o-mini');
    await waitFor(() => expect(backend.argsOf('history').at(-1)).toEqual({ query: { limit: 20, app_id: 2, model: 'gpt-4o-mini' } }));

    await user.click(screen.getAllByTestId('history-filter-range')[0]); // the start and end inputs both carry it
    await user.click(await screen.findByText('This month', { selector: '.ant-picker-presets li' }));
    // Whole local days: from the 1st at 00:00 to tomorrow at 00:00, exclusive.
    const range = { from: dayjs().startOf('month').toISOString(), to: dayjs().add(1, 'day').startOf('day').toISOString() };
    const filter = { app_id: 2, model: 'gpt-4o-mini', ...range };
    await waitFor(() => expect(backend.argsOf('history').at(-1)).toEqual({ query: { limit: 20, ...filter } }));

    await user.click(screen.getByTestId('export-csv'));
    expect(await screen.findByTestId('export-result')).toHaveTextContent('Exported 1,234 rows to /home/alice/Downloads/tokendesk-history.csv');
    expect(backend.argsOf('export_history_csv')).toEqual([{ query: filter }]);
  });

  it('opens a row in a drawer that shows the stored price snapshot and results, not a recomputation', async () => {
    fakeBackend({ history: () => page([charge('e2', '4.5'), difyPriced]) });
    renderWindow('dashboard');
    const [modelRow, difyRow] = await screen.findAllByTestId('charge-row');

    await user.click(modelRow);
    const detail = await screen.findByTestId('charge-detail');
    // The fixture's usd_cost (0.0045) is not what the tokens would give today (0.0039325): the stored one shows.
    expect(within(detail).getAllByTestId('charge-formula').map((f) => f.textContent)).toEqual([
      '1,033 / 1000 × 0.0025 + 135 / 1000 × 0.01 = 0.0045 USD',
      '0.0045 USD × 1,000 = 4.5 credits',
    ]);
    expect(detail).toHaveTextContent('msg-e2');
    await user.click(screen.getByRole('button', { name: 'Close' }));
    await waitFor(() => expect(screen.queryByTestId('charge-detail')).toBeNull());

    // Keyboard: a focused row opens with Enter.
    difyRow.focus();
    await user.keyboard('{Enter}');
    const dify = await screen.findByTestId('charge-detail');
    expect(within(dify).getByTestId('charge-formula')).toHaveTextContent('0.007 USD × 1,000 = 7 credits');
    expect(dify).toHaveTextContent("Dify's reported price0.007 USD");
  });

  it("tags a side call's charge with the call Dify made beside the reply, in the list and the drawer", async () => {
    const sideCall = (id: string, call: SideCall) => charge(id, '0.5', { usage: { ...charge(id, '0.5').usage!, side_call: call } });
    fakeBackend({ history: () => page([sideCall('s2', 'suggested_questions'), sideCall('s1', 'conversation_name'), charge('e1', '4.5')]) });
    renderWindow('dashboard');
    await waitFor(() => expect(rowIds()).toEqual(['s2', 's1', 'e1']));
    const rows = screen.getAllByTestId('charge-row');
    expect(rows.map((row) => within(row).queryByTestId('side-call-tag')?.textContent ?? null)).toEqual(['Suggested questions', 'Auto-naming', null]);

    await user.click(rows[1]);
    expect(within(await screen.findByTestId('charge-detail')).getByTestId('side-call-tag')).toHaveTextContent('Auto-naming');
  });

  it('warns on a low balance and follows monitor events', async () => {
    fakeBackend({
      dashboard: () => dashboard({ low_balance: true }),
      monitor_status: () => monitor({ chat_open: false, demo: false }),
    });
    renderWindow('dashboard');

    expect(await screen.findByTestId('low-balance')).toHaveTextContent('Your balance is low');
    const status = await screen.findByTestId('monitor-status');
    expect(status).toHaveTextContent('Chat window closed');
    expect(status).not.toHaveTextContent('Demo');

    // Open, but its page has no relay reporting in (yet): not connected.
    await act(() => emit('monitor', monitor({ chat_open: true, relay_seen_at: null, integration_enabled: false })));
    await waitFor(() => expect(screen.getByTestId('monitor-chat')).toHaveAttribute('data-state', 'open'));
    expect(screen.getByTestId('monitor-status')).toHaveTextContent('Chat window open');
    expect(screen.getByTestId('monitor-status')).toHaveTextContent('Metering off');

    const refused = { endpoint: 'chat-messages', at: '2026-11-24T09:00:00Z', allowed: false, code: 'insufficient_credits' };
    await act(() => emit('monitor', monitor({ last_send: refused })));
    await waitFor(() => expect(screen.getByTestId('monitor-chat')).toHaveAttribute('data-state', 'connected'));
    expect(screen.getByTestId('monitor-status')).toHaveTextContent('Chat connected');
    expect(screen.getByTestId('monitor-last-send')).toHaveTextContent('refused: not enough credits');

    // The relay reported in from a page whose replies are not charged.
    await act(() => emit('monitor', monitor({ relay_metered: false })));
    await waitFor(() => expect(screen.getByTestId('monitor-chat')).toHaveAttribute('data-state', 'not-metered'));
    expect(screen.getByTestId('monitor-status')).toHaveTextContent('Chat not metered');
  });

  it('asks for the balance first, and tells the shell once that it has been painted', async () => {
    let answer = (_: Dashboard) => {};
    const backend = fakeBackend({ dashboard: () => new Promise<Dashboard>((resolve) => (answer = resolve)) });
    renderWindow('dashboard');
    // The window is up, the summary still on its way: nothing painted, nothing said, nothing else asked.
    await screen.findByTestId('monitor-status');
    expect(screen.queryByTestId('balance')).toBeNull();
    expect([...new Set(backend.calls.map((c) => c.cmd))].sort()).toEqual(['dashboard', 'monitor_status', 'way_in']);

    act(() => answer(dashboard()));
    expect(await screen.findByTestId('balance')).toHaveTextContent(/^9960\.675$/);
    await waitFor(() => expect(backend.argsOf('dashboard_painted')).toEqual([{}]));
    // The chart, breakdowns and history follow the balance.
    await screen.findAllByTestId('charge-row');

    // A later balance is no new start.
    backend.on('dashboard', () => dashboard({ balance: '9956.175', balance_micros: 9_956_175_000 }));
    await act(() => emit('charge', chargeEvent()));
    await waitFor(() => expect(screen.getByTestId('balance')).toHaveTextContent(/^9956\.175$/));
    expect(backend.argsOf('dashboard_painted')).toEqual([{}]);
  });

  it('opens the other windows', async () => {
    const backend = fakeBackend();
    renderWindow('dashboard');
    await screen.findByTestId('balance');
    for (const [label, name] of [['Open chat', 'chat'], ['Admin', 'admin'], ['Diagnostics', 'diagnostics']]) {
      await user.click(screen.getByRole('button', { name: label }));
      expect(backend.argsOf('open_window').at(-1)).toEqual({ name });
    }
  });
});
