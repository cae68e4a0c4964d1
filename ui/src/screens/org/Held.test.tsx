import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import i18n from '../../i18n';
import { callsOf, changes, heldEvent, orgServer, openOrgConsole } from '../../test/orgServer';
import { typeInto } from '../../test/render';
import { user } from '../../test/user';

/** A capped event, a quarantined one whose device priced it lower than the server, and one decided already. */
function serverWithHeld() {
  const server = orgServer();
  server.state.held = [
    heldEvent('h1'),
    heldEvent('h2', {
      reason: 'quarantined',
      user: 'bob',
      detail: 'the device priced 12 credits, the server 15.5',
      device_amount_micros: 12_000_000,
      server_amount_micros: 15_500_000,
    }),
    heldEvent('h3', { reason: 'flood', status: 'approved', decided_by: 'root', decided_at: '2026-12-01T10:00:00Z', note: 'a demo day', entry_id: 'e9' }),
  ];
  return server;
}

const rowOf = (id: string) => screen.getAllByTestId('held-row').find((r) => r.getAttribute('data-held-id') === id)!;

describe('org console: held and quarantined events on the server', () => {
  it('shows pending events by default, the reason in words and the device’s amount beside the server’s; all on request', async () => {
    const { backend } = serverWithHeld();
    await openOrgConsole('held');
    await waitFor(() => expect(screen.getAllByTestId('held-row')).toHaveLength(2));
    const capped = rowOf('h1');
    expect(capped).toHaveTextContent('Above cap');
    expect(capped).toHaveTextContent('alice');
    expect(capped).toHaveTextContent('Support bot');
    expect(within(capped).queryByTestId('held-differs')).toBeNull();

    const quarantined = rowOf('h2');
    expect(quarantined).toHaveTextContent('Price mismatch (quarantined)');
    expect(quarantined).toHaveTextContent('bob');
    expect(quarantined).toHaveTextContent('12');
    expect(quarantined).toHaveTextContent('15.5');
    expect(within(quarantined).getByTestId('held-differs')).toHaveTextContent('differs');

    await user.click(screen.getByTestId('held-show-all'));
    await waitFor(() => expect(screen.getAllByTestId('held-row')).toHaveLength(3));
    expect(rowOf('h3')).toHaveAttribute('data-status', 'approved');
    expect(rowOf('h3')).toHaveTextContent('Flood');
    expect(within(rowOf('h3')).queryByTestId('held-approve-h3')).toBeNull();
    expect(callsOf(backend, 'held')).toEqual([
      { op: 'held', all: false },
      { op: 'held', all: true },
    ]);
  });

  it('approves with a note, saying the server’s amount is charged, and rejects without one', async () => {
    const { backend, state } = serverWithHeld();
    await openOrgConsole('held');
    await user.click(await screen.findByTestId('held-approve-h2'));
    expect(await screen.findByTestId('held-approve-hint')).toHaveTextContent("Approving charges bob the server's amount, 15.5 credits, not the device's.");
    await typeInto('held-note', ' checked with bob ');
    await user.click(screen.getByTestId('held-confirm'));
    await waitFor(() => expect(screen.getAllByTestId('held-row')).toHaveLength(1));

    await user.click(screen.getByTestId('held-reject-h1'));
    expect(screen.queryByTestId('held-approve-hint')).toBeNull();
    await user.click(await screen.findByTestId('held-confirm'));
    await waitFor(() => expect(screen.queryAllByTestId('held-row')).toHaveLength(0));
    expect(screen.getByText('Nothing waits for a decision')).toBeInTheDocument();

    expect(changes(backend)).toEqual([
      { op: 'decide_held', id: 'h2', verdict: 'approve', note: 'checked with bob' },
      { op: 'decide_held', id: 'h1', verdict: 'reject', note: null },
    ]);
    expect(state.held.map((h) => h.status)).toEqual(['rejected', 'approved', 'approved']);
  });

  it('says so when the server cannot price an event yet, and shows a refusal', async () => {
    const { state } = orgServer();
    state.held = [heldEvent('h4', { reason: 'unpriced', server_amount_micros: null, device_amount_micros: null, detail: 'no price for gpt-5' })];
    await openOrgConsole('held');
    const [row] = await screen.findAllByTestId('held-row');
    expect(row).toHaveTextContent('No price');
    expect(within(row).getAllByText('unpriced')).toHaveLength(2);
    await user.click(screen.getByTestId('held-approve-h4'));
    expect(await screen.findByTestId('held-approve-hint')).toHaveTextContent('The server has no price for it yet, so it may refuse.');
    // Decided meanwhile by another admin: the server refuses.
    state.held = [{ ...state.held[0], status: 'rejected' }];
    await user.click(screen.getByTestId('held-confirm'));
    expect(await screen.findByText('Already decided: held event h4 is rejected already')).toBeInTheDocument();
  });

  it('speaks Chinese', async () => {
    serverWithHeld();
    await act(() => i18n.changeLanguage('zh'));
    await openOrgConsole('held');
    expect(screen.getByTestId('org-tab-held')).toHaveTextContent('待审核事件');
    await waitFor(() => expect(screen.getAllByTestId('held-row')).toHaveLength(2));
    expect(rowOf('h2')).toHaveTextContent('价格不符（已隔离）');
    expect(rowOf('h2')).toHaveTextContent('不一致');
    expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toEqual(expect.arrayContaining(['设备计价', '服务器计价']));
    await user.click(screen.getByTestId('held-approve-h2'));
    expect(await screen.findByTestId('held-approve-hint')).toHaveTextContent('批准后将按服务器金额向 bob 扣 15.5 积分，而非设备金额。');
    // antd spaces out a two-character label.
    expect(screen.getByTestId('held-confirm')).toHaveTextContent(/^批 ?准$/);
  });
});
