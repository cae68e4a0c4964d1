import { emit } from '@tauri-apps/api/event';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { SimulatedEvent } from '../api';
import { App } from '../App';
import { chargeEvent, fakeBackend, reject } from '../test/backend';
import { user } from '../test/user';

/** Like the shell: run the event, emit `charge` with the result, answer with the result. */
function simulateLikeRust({ event }: Record<string, unknown>) {
  const e = event as SimulatedEvent;
  const result = chargeEvent({ message_id: e.message_id, amount: 4.5, balance: 9956.175 });
  void emit('charge', result);
  return result;
}

describe('diagnostics window', () => {
  it('calls admin_simulate with the form values and logs the charge event', async () => {
    const backend = fakeBackend({ admin_simulate: simulateLikeRust });
    render(<App name="diagnostics" />);
    expect(await screen.findByTestId('balance')).toHaveTextContent(/^9960\.675$/);
    // The first enabled app is preselected (app 1 is disabled).
    await waitFor(() => expect(screen.getByText('Support bot')).toBeInTheDocument());

    await user.clear(screen.getByTestId('sim-prompt'));
    await user.type(screen.getByTestId('sim-prompt'), '1500');
    await user.clear(screen.getByTestId('sim-completion'));
    await user.type(screen.getByTestId('sim-completion'), '300');
    await user.type(screen.getByTestId('sim-message-id'), 'm-42');
    await user.click(screen.getByTestId('sim-submit'));

    await waitFor(() =>
      expect(backend.argsOf('admin_simulate')).toEqual([
        { event: { app_id: 2, prompt_tokens: 1500, completion_tokens: 300, message_id: 'm-42' } },
      ]),
    );
    const row = await screen.findByTestId('charge-log-row');
    expect(row).toHaveAttribute('data-outcome', 'charged');
    expect(within(row).getByText('Charged')).toBeInTheDocument();
    expect(within(row).getByText('4.5')).toBeInTheDocument();
    expect(within(row).getByText('m-42')).toBeInTheDocument();
    expect(screen.getByTestId('balance')).toHaveTextContent(/^9956\.175$/);
    expect(await screen.findByTestId('sim-result')).toHaveTextContent('Charged');
  });

  it('generates a message id when none is given, a new one per run', async () => {
    const backend = fakeBackend({ admin_simulate: simulateLikeRust });
    render(<App name="diagnostics" />);
    await waitFor(() => expect(screen.getByText('Support bot')).toBeInTheDocument());

    await user.click(screen.getByTestId('sim-submit'));
    await waitFor(() => expect(backend.argsOf('admin_simulate')).toHaveLength(1));
    await user.click(screen.getByTestId('sim-submit'));
    await waitFor(() => expect(backend.argsOf('admin_simulate')).toHaveLength(2));

    const ids = backend.argsOf('admin_simulate').map((a) => (a.event as SimulatedEvent).message_id);
    expect(ids[0]).toMatch(/^diag-[0-9a-f-]{36}$/);
    expect(ids[1]).not.toBe(ids[0]);
    expect(backend.argsOf('admin_simulate')[0].event).toMatchObject({ app_id: 2, prompt_tokens: 1000, completion_tokens: 200 });
  });

  it('logs held and rejected events with their reason, newest first', async () => {
    fakeBackend();
    render(<App name="diagnostics" />);
    await screen.findByTestId('balance');

    await act(() => emit('charge', chargeEvent({ outcome: 'held', code: 'cap', reason: 'above the per-event cap', amount: 900 })));
    await act(() => emit('charge', chargeEvent({ outcome: 'rejected', code: 'bad_usage', reason: 'negative tokens', amount: 0 })));

    await waitFor(() => expect(screen.getAllByTestId('charge-log-row')).toHaveLength(2));
    const [newest, older] = screen.getAllByTestId('charge-log-row');
    expect(newest).toHaveTextContent('Rejected');
    expect(newest).toHaveTextContent('bad_usage: negative tokens');
    expect(older).toHaveTextContent('Held');
    expect(older).toHaveTextContent('cap: above the per-event cap');
  });

  it('asks for an admin login when there is no session, with a button to the admin window', async () => {
    const backend = fakeBackend({ admin_simulate: () => reject('admin_session_required', 'no admin session') });
    render(<App name="diagnostics" />);
    await waitFor(() => expect(screen.getByText('Support bot')).toBeInTheDocument());

    await user.click(screen.getByTestId('sim-submit'));
    expect(await screen.findByTestId('sim-error')).toHaveTextContent('Admin login required');
    await user.click(screen.getByRole('button', { name: 'Open admin window' }));
    expect(backend.argsOf('open_window')).toEqual([{ name: 'admin' }]);
    expect(screen.queryByTestId('charge-log-row')).toBeNull();
  });
});
