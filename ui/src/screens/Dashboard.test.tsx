import { emit } from '@tauri-apps/api/event';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from '../App';
import { charge, chargeEvent, dashboard, fakeBackend, monitor, page } from '../test/backend';
import { user } from '../test/user';

const rowIds = () => screen.getAllByTestId('charge-row').map((r) => r.getAttribute('data-entry-id'));

describe('dashboard window', () => {
  it('shows balance, today, month, monitor status and the charge list from the commands', async () => {
    const backend = fakeBackend({
      history: () => page([charge('e2', 4.5), charge('e1', 34.825, { usage: { ...charge('e1', 0).usage!, estimated: true } })]),
    });
    render(<App name="dashboard" />);

    expect(await screen.findByTestId('balance')).toHaveTextContent(/^9960\.675$/);
    expect(screen.getByText('≈ $9.96')).toBeInTheDocument();
    const today = screen.getByTestId('today');
    expect(within(today).getByText('39.325')).toBeInTheDocument();
    expect(within(today).getByText('12,345')).toBeInTheDocument();
    expect(within(screen.getByTestId('month')).getByText('12')).toBeInTheDocument();
    expect(screen.getByTestId('by-model')).toHaveTextContent("Dify's reported price39.325");
    // month_by_app keys are app ids; the name comes from apps().
    await waitFor(() => expect(screen.getByTestId('by-app')).toHaveTextContent('Support bot139.325'));

    expect(rowIds()).toEqual(['e2', 'e1']);
    const [newest, older] = screen.getAllByTestId('charge-row');
    expect(within(newest).getByText('-4.5')).toBeInTheDocument();
    expect(within(newest).getByText('1,033')).toBeInTheDocument();
    expect(within(newest).queryByText('estimated')).toBeNull();
    expect(within(older).getByText('estimated')).toBeInTheDocument();

    const status = await screen.findByTestId('monitor-status');
    expect(status).toHaveTextContent('Chat window open');
    expect(status).toHaveTextContent('Metering on');
    expect(status).toHaveTextContent('Demo');
    expect(screen.queryByTestId('low-balance')).toBeNull();
    expect(backend.argsOf('history')).toEqual([{ query: { limit: 20 } }]);
  });

  it('refetches the dashboard and the first history page on a charge event, keeping loaded pages', async () => {
    const backend = fakeBackend({ history: () => page([charge('e2', 4.5)], 'c1') });
    render(<App name="dashboard" />);
    await screen.findByTestId('balance');

    backend.on('history', () => page([charge('e1', 34.825)]));
    await user.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(rowIds()).toEqual(['e2', 'e1']));
    expect(backend.argsOf('history')[1]).toEqual({ query: { limit: 20, cursor: 'c1' } });
    expect(screen.getByText('All entries loaded')).toBeInTheDocument();

    backend.on('dashboard', () => dashboard({ balance: 9956.175, balance_micros: 9_956_175_000 }));
    backend.on('history', () => page([charge('e3', 4.5), charge('e2', 4.5)], 'c2'));
    await act(() => emit('charge', chargeEvent()));

    await waitFor(() => expect(screen.getByTestId('balance')).toHaveTextContent(/^9956\.175$/));
    await waitFor(() => expect(rowIds()).toEqual(['e3', 'e2', 'e1']));
    expect(backend.argsOf('dashboard')).toHaveLength(2);
    expect(backend.argsOf('history')[2]).toEqual({ query: { limit: 20 } });
    // The older page was already loaded to the end: no "load more" for a cursor it has passed.
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
  });

  it('warns on a low balance and follows monitor events', async () => {
    fakeBackend({
      dashboard: () => dashboard({ low_balance: true }),
      monitor_status: () => monitor({ chat_open: false, demo: false }),
    });
    render(<App name="dashboard" />);

    expect(await screen.findByTestId('low-balance')).toHaveTextContent('Your balance is low');
    const status = await screen.findByTestId('monitor-status');
    expect(status).toHaveTextContent('Chat window closed');
    expect(status).not.toHaveTextContent('Demo');

    await act(() => emit('monitor', monitor({ chat_open: true, integration_enabled: false })));
    await waitFor(() => expect(screen.getByTestId('monitor-status')).toHaveTextContent('Chat window open'));
    expect(screen.getByTestId('monitor-status')).toHaveTextContent('Metering off');
  });

  it('opens the other windows', async () => {
    const backend = fakeBackend();
    render(<App name="dashboard" />);
    await screen.findByTestId('balance');
    for (const [label, name] of [['Open chat', 'chat'], ['Admin', 'admin'], ['Diagnostics', 'diagnostics']]) {
      await user.click(screen.getByRole('button', { name: label }));
      expect(backend.argsOf('open_window').at(-1)).toEqual({ name });
    }
  });
});
