import { emit } from '@tauri-apps/api/event';
import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { SimulatedEvent } from '../api';
import i18n from '../i18n';
import { chargeEvent, dashboard, fakeBackend, reject, type Backend } from '../test/backend';
import { expectFieldError, pickOption, renderWindow } from '../test/render';
import { user } from '../test/user';

/** Like the shell: run the event (the balance drops), emit `charge` with the result, answer with the result. */
function simulateLikeRust(backend: () => Backend) {
  return ({ event }: Record<string, unknown>) => {
    const e = event as SimulatedEvent;
    backend().on('dashboard', () => dashboard({ balance: '9956.175', balance_micros: 9_956_175_000 }));
    const result = chargeEvent({ message_id: e.message_id, amount: '4.5', balance: '9956.175' });
    void emit('charge', result);
    return result;
  };
}

describe('diagnostics window', () => {
  it('calls admin_simulate with the form values and logs the charge event', async () => {
    const backend: Backend = fakeBackend({ admin_simulate: simulateLikeRust(() => backend) });
    renderWindow('diagnostics');
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
        { event: { app_id: 2, model: null, prompt_tokens: 1500, completion_tokens: 300, dify_total_price: null, message_id: 'm-42' } },
      ]),
    );
    // Priced as the app is bound unless another model is picked.
    expect(screen.getByTestId('sim-model')).toHaveTextContent('As the app is bound (gpt-4o)');
    const row = await screen.findByTestId('charge-log-row');
    expect(row).toHaveAttribute('data-outcome', 'charged');
    expect(within(row).getByText('Charged')).toBeInTheDocument();
    expect(within(row).getByText('4.5')).toBeInTheDocument();
    expect(within(row).getByText('m-42')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('balance')).toHaveTextContent(/^9956\.175$/));
    expect(await screen.findByTestId('sim-result')).toHaveTextContent('Charged');

    await pickOption('sim-model', 'gpt-4o-mini');
    await user.type(screen.getByTestId('sim-dify-price'), 'abc');
    await user.click(screen.getByTestId('sim-submit'));
    await expectFieldError('sim-dify-price', 'Enter a total in USD as a decimal number, e.g. 0.0013');
    await user.clear(screen.getByTestId('sim-dify-price'));
    await user.type(screen.getByTestId('sim-dify-price'), '0.0042');
    await user.clear(screen.getByTestId('sim-message-id'));
    await user.type(screen.getByTestId('sim-message-id'), 'm-43');
    await user.click(screen.getByTestId('sim-submit'));
    await waitFor(() => expect(backend.argsOf('admin_simulate')).toHaveLength(2));
    expect(backend.argsOf('admin_simulate')[1]).toEqual({
      event: { app_id: 2, model: 'gpt-4o-mini', prompt_tokens: 1500, completion_tokens: 300, dify_total_price: '0.0042', message_id: 'm-43' },
    });
  });

  it('generates a message id when none is given, a new one per run', async () => {
    const backend: Backend = fakeBackend({ admin_simulate: simulateLikeRust(() => backend) });
    renderWindow('diagnostics');
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

  it('logs charged, duplicate, held and rejected events with their reasons, newest first', async () => {
    fakeBackend();
    renderWindow('diagnostics');
    await screen.findByTestId('balance');

    await act(() => emit('charge', chargeEvent({ entry_id: 'e-7' })));
    // A replay names no reason: the log says which charge it repeats.
    await act(() => emit('charge', chargeEvent({ outcome: 'duplicate', entry_id: 'e-7' })));
    await act(() => emit('charge', chargeEvent({ outcome: 'held', code: 'cap', reason: 'above the per-event cap', amount: '900', entry_id: null, held_id: 'h-1' })));
    await act(() => emit('charge', chargeEvent({ outcome: 'rejected', code: 'bad_usage', reason: 'negative tokens', amount: '0', entry_id: null })));

    await waitFor(() => expect(screen.getAllByTestId('charge-log-row')).toHaveLength(4));
    const rows = screen.getAllByTestId('charge-log-row');
    expect(rows.map((r) => r.getAttribute('data-outcome'))).toEqual(['rejected', 'held', 'duplicate', 'charged']);
    expect(rows[0]).toHaveTextContent('bad_usage: negative tokens');
    expect(rows[1]).toHaveTextContent('cap: above the per-event cap');
    expect(rows[2]).toHaveTextContent('Already charged as e-7');
    expect(rows[3]).toHaveTextContent('Charged');

    await act(() => i18n.changeLanguage('zh'));
    expect(screen.getAllByTestId('charge-log-row')[2]).toHaveTextContent(/重复.*已扣费，账目 e-7/);
  });

  it('follows the balance through admin changes', async () => {
    const backend = fakeBackend();
    renderWindow('diagnostics');
    expect(await screen.findByTestId('balance')).toHaveTextContent(/^9960\.675$/);
    backend.on('dashboard', () => dashboard({ balance: '10060.675', balance_micros: 10_060_675_000 }));
    await act(() => emit('ledger-changed', null));
    await waitFor(() => expect(screen.getByTestId('balance')).toHaveTextContent(/^10060\.675$/));
  });

  it('asks for an admin login when there is no session, with a button to the admin window', async () => {
    const backend = fakeBackend({ admin_simulate: () => reject('admin_session_required', 'no admin session') });
    renderWindow('diagnostics');
    await waitFor(() => expect(screen.getByText('Support bot')).toBeInTheDocument());

    await user.click(screen.getByTestId('sim-submit'));
    expect(await screen.findByTestId('sim-error')).toHaveTextContent('Admin login required');
    await user.click(screen.getByRole('button', { name: 'Open admin window' }));
    expect(backend.argsOf('open_window')).toEqual([{ name: 'admin' }]);
    expect(screen.queryByTestId('charge-log-row')).toBeNull();
  });
});
