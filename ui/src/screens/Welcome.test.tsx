import { act, screen, waitFor, within } from '@testing-library/react';
import { emit } from '@tauri-apps/api/event';
import { describe, expect, it } from 'vitest';
import type { Mode, WayIn } from '../api';
import { fakeBackend, monitor, reject, syncStatus } from '../test/backend';
import { renderWindow, typeInto } from '../test/render';
import { user } from '../test/user';

/** What an unmanaged install's shell answers to `way_in`. */
function wayIn(way: Partial<WayIn> = {}): WayIn {
  return { mode: 'unchosen', suggested_server: null, offer_island: true, offer_demo: true, ...way };
}

/** A backend whose mode moves on as the shell's would. */
function firstRun(managed: Partial<WayIn> = {}) {
  let mode: Mode = 'unchosen';
  const backend = fakeBackend({
    way_in: () => wayIn({ ...managed, mode }),
    choose_mode: ({ mode: chosen }) => {
      mode = chosen as Mode;
      return null;
    },
    join_org: () => {
      mode = 'org';
      return syncStatus();
    },
  });
  return backend;
}

describe('first run', () => {
  it('offers the three ways in before any dashboard, and the island says its user is their own admin', async () => {
    const backend = firstRun();
    renderWindow('dashboard');

    expect(await screen.findByTestId('welcome-join')).toHaveTextContent('Join my organization');
    expect(screen.getByTestId('welcome-island')).toHaveTextContent('you are your own admin');
    expect(screen.getByTestId('welcome-demo')).toHaveTextContent('Try the demo');
    expect(screen.queryByTestId('balance')).toBeNull();

    await user.click(screen.getByTestId('choose-island'));
    expect(backend.argsOf('choose_mode')).toEqual([{ mode: 'island' }]);
    expect(await screen.findByTestId('balance')).toBeInTheDocument();
    expect(screen.getByTestId('mode')).toHaveAttribute('data-mode', 'island');
    expect(screen.getByTestId('island-notice')).toHaveTextContent('you are your own admin');
    expect(screen.getByTestId('open-join')).toBeInTheDocument();
  });

  it('tries the demo', async () => {
    const backend = firstRun();
    renderWindow('dashboard');
    await user.click(await screen.findByTestId('choose-demo'));
    expect(backend.argsOf('choose_mode')).toEqual([{ mode: 'demo' }]);
    await waitFor(() => expect(screen.getByTestId('mode')).toHaveAttribute('data-mode', 'demo'));
    expect(screen.queryByTestId('island-notice')).toBeNull();
  });

  it('joins with the suggested server and a code, and shows a refusal in words', async () => {
    const backend = firstRun({ suggested_server: 'https://td.example.com' });
    backend.on('join_org', () => reject('code_invalid', 'this enrollment code is not valid; ask an admin for a new one'));
    renderWindow('dashboard');

    expect(await screen.findByTestId('join-server')).toHaveValue('https://td.example.com');
    await user.click(screen.getByTestId('join-submit'));
    // The form validates after the click: wait for its message.
    await waitFor(() => expect(screen.getByTestId('join-form')).toHaveTextContent('Enter the enrollment code.'));
    expect(backend.argsOf('join_org')).toEqual([]);

    await typeInto('join-code', ' ABCD-EFGH-JKLM ');
    await user.click(screen.getByTestId('join-submit'));
    expect(await screen.findByRole('alert')).toHaveTextContent('The enrollment code was not accepted: this enrollment code is not valid');
    expect(backend.argsOf('join_org')).toEqual([{ server: 'https://td.example.com', code: 'ABCD-EFGH-JKLM' }]);

    let joined = false;
    backend.on('join_org', () => {
      joined = true;
      return syncStatus();
    });
    backend.on('way_in', () => wayIn({ mode: joined ? 'org' : 'unchosen' }));
    backend.on('monitor_status', () => monitor({ sync: syncStatus() }));
    await user.click(screen.getByTestId('join-submit'));
    expect(await screen.findByText('Joined acme as alice.')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('mode')).toHaveTextContent('Org: acme'));
    expect(screen.queryByTestId('open-join')).toBeNull();
  });

  it('offers only the ways in a managed install allows, with its server filled in', async () => {
    firstRun({ suggested_server: 'https://td.example.com', offer_island: false });
    renderWindow('dashboard');
    expect(await screen.findByTestId('join-server')).toHaveValue('https://td.example.com');
    expect(screen.queryByTestId('welcome-island')).toBeNull();
    expect(screen.getByTestId('welcome-demo')).toBeInTheDocument();
  });

  it('offers joining alone when the island and the demo are both withheld', async () => {
    firstRun({ offer_island: false, offer_demo: false });
    renderWindow('dashboard');
    expect(await screen.findByTestId('welcome-join')).toBeInTheDocument();
    expect(screen.queryByTestId('welcome-island')).toBeNull();
    expect(screen.queryByTestId('welcome-demo')).toBeNull();
  });

  it('takes a join link in the code field, server and all', async () => {
    const backend = firstRun();
    renderWindow('dashboard');
    // Half a link is not one: the server stays to be typed.
    await typeInto('join-code', 'tokendesk://join?server=https%3A%2F%2Ftd.example.com');
    expect(screen.getByTestId('join-server')).toBeEnabled();
    await user.clear(screen.getByTestId('join-code'));
    const link = 'tokendesk://join?server=https%3A%2F%2Ftd.example.com&code=ABCD-EFGH-JKLM';
    await typeInto('join-code', link);
    expect(screen.getByTestId('join-server')).toBeDisabled();
    await user.click(screen.getByTestId('join-submit'));
    expect(backend.argsOf('join_org')).toEqual([{ server: '', code: link }]);
  });
});

describe('an org device on the dashboard', () => {
  it('shows online or offline, the last sync, what waits and the allowance left, and syncs on demand', async () => {
    const backend = fakeBackend({
      way_in: () => wayIn({ mode: 'org' }),
      monitor_status: () => monitor({ sync: syncStatus() }),
      sync_now: () => null,
    });
    renderWindow('dashboard');

    const org = await screen.findByTestId('org-sync');
    expect(org).toHaveAttribute('data-state', 'online');
    expect(within(org).getByTestId('org-state')).toHaveTextContent('Online');
    expect(within(org).getByTestId('org-last-sync')).toHaveTextContent('Last sync: 2026-11-24');
    expect(within(org).getByTestId('org-pending')).toHaveTextContent('Waiting to sync: 0');
    expect(within(org).getByTestId('org-allowance')).toHaveTextContent('Offline allowance left: 250');
    await user.click(within(org).getByTestId('sync-now'));
    expect(backend.argsOf('sync_now')).toEqual([{}]);

    expect(screen.queryByTestId('org-notice')).toBeNull();

    await act(() => emit('monitor', monitor({ sync: syncStatus({ last_error: 'cannot reach the org server', pending: 3 }) })));
    expect(screen.getByTestId('org-sync')).toHaveAttribute('data-state', 'offline');
    expect(screen.getByTestId('org-pending')).toHaveTextContent('Waiting to sync: 3');
    // Offline with allowance left: nothing is blocked yet, so no banner.
    expect(screen.queryByTestId('org-notice')).toBeNull();

    await act(() => emit('monitor', monitor({ sync: syncStatus({ last_error: 'cannot reach the org server', lease_left: '0', lease_left_micros: 0, lease_refusal: 'the offline allowance of 250 credits is spent' }) })));
    expect(screen.getByTestId('org-notice')).toHaveAttribute('data-state', 'allowance-out');
    expect(screen.getByTestId('org-notice')).toHaveTextContent('offline allowance is used up');

    await act(() => emit('monitor', monitor({ sync: syncStatus({ revoked: true }) })));
    expect(screen.getByTestId('org-state')).toHaveTextContent('Device revoked');
    expect(screen.getByTestId('org-notice')).toHaveAttribute('data-state', 'revoked');
    expect(screen.queryByTestId('sync-now')).toBeNull();
  });
});
