import { act, screen, waitFor, within } from '@testing-library/react';
import dayjs from 'dayjs';
import { describe, expect, it } from 'vitest';
import i18n from '../../i18n';
import { calls, callsOf, changes, orgServer, SERVER, signedOut } from '../../test/orgServer';
import { pickOption, renderWindow, typeInto } from '../../test/render';
import { user } from '../../test/user';

describe('admin window, enrolled: the org console on the server', () => {
  it('signs in to the enrolled server, not with the local password, and says a wrong password plainly', async () => {
    const { backend } = orgServer(signedOut);
    renderWindow('admin');
    expect(await screen.findByTestId('org-admin-server')).toHaveTextContent(SERVER);
    expect(screen.queryByTestId('admin-password')).not.toBeInTheDocument();

    await typeInto('org-admin-name', 'root');
    await typeInto('org-admin-password', 'wrong');
    await user.click(screen.getByTestId('org-admin-submit'));
    expect(await screen.findByTestId('org-admin-error')).toHaveTextContent('The org server did not accept this: wrong name or password');

    await user.clear(screen.getByTestId('org-admin-password'));
    await typeInto('org-admin-password', 'correct horse');
    await user.click(screen.getByTestId('org-admin-submit'));
    expect(await screen.findByTestId('org-admin-session')).toHaveTextContent('Signed in as root');
    expect(screen.getByTestId('org-admin-managed')).toHaveTextContent(SERVER);
    expect(backend.argsOf('org_admin_login')).toEqual([
      { name: 'root', password: 'wrong' },
      { name: 'root', password: 'correct horse' },
    ]);
    expect(backend.argsOf('admin_login')).toEqual([]);
  });

  it('goes back to the sign-in form when the server ends the session', async () => {
    const { backend, state } = orgServer();
    renderWindow('admin');
    await screen.findAllByTestId('org-user-row');
    state.status = signedOut;
    await user.click(screen.getByTestId('org-tab-models'));
    expect(await screen.findByTestId('org-admin-name')).toBeInTheDocument();
    expect(backend.argsOf('org_admin_status').length).toBeGreaterThanOrEqual(2);
  });

  it('lists users and devices with last seen and clock skew, and revokes a device after a confirmation', async () => {
    const { backend } = orgServer();
    renderWindow('admin');
    const alice = (await screen.findAllByTestId('org-user-row')).find((r) => r.getAttribute('data-user') === 'alice')!;
    expect(alice).toHaveTextContent('2,500');
    const [live, revoked] = await screen.findAllByTestId('org-device-row');
    expect(live).toHaveTextContent('-420 s');
    expect(revoked).toHaveTextContent('Device revoked');
    expect(revoked).toHaveTextContent('not yet');

    await user.click(within(live).getByTestId('revoke-d1'));
    await user.click(await screen.findByTestId('revoke-confirm'));
    await waitFor(() => expect(screen.getAllByTestId('org-device-row')[0]).toHaveAttribute('data-revoked', 'true'));
    expect(changes(backend)).toEqual([{ op: 'revoke_device', id: 'd1' }]);
  });

  it('adds a staff member, then shows their enrollment code and join link once', async () => {
    const { backend } = orgServer();
    renderWindow('admin');
    await typeInto('new-user-name', 'bob');
    await typeInto('new-user-display', 'Bob Li');
    await user.click(screen.getByTestId('new-user-submit'));
    expect(await screen.findByText('Added bob. Make an enrollment code to let them join.')).toBeInTheDocument();
    expect(changes(backend)).toEqual([{ op: 'add_user', user: { name: 'bob', display_name: 'Bob Li', role: 'staff', password: null } }]);

    await user.click(await screen.findByTestId('enroll-code-bob'));
    expect(await screen.findByTestId('enrollment-code')).toHaveTextContent('K7QF-93XD');
    expect(screen.getByTestId('enrollment-link')).toHaveTextContent(`tokendesk://join?server=${encodeURIComponent(SERVER)}&code=K7QF-93XD`);
    expect(screen.getByText(/Shown this once/)).toBeInTheDocument();
    // A copy button for each.
    expect(within(screen.getByRole('dialog')).getAllByRole('button', { name: /copy/i })).toHaveLength(2);
    expect(callsOf(backend, 'enrollment_code')).toEqual([{ op: 'enrollment_code', user: 'bob' }]);
  });

  it('asks for a password only when the new user is an admin', async () => {
    const { backend } = orgServer();
    renderWindow('admin');
    await typeInto('new-user-name', 'carol');
    expect(screen.queryByTestId('new-user-password')).not.toBeInTheDocument();
    await user.click(within(screen.getByTestId('new-user-role')).getByLabelText('Admin'));
    await typeInto('new-user-password', 'long enough pw');
    await typeInto('new-user-confirm', 'long enough pw');
    await user.click(screen.getByTestId('new-user-submit'));
    await screen.findByText(/Added carol/);
    expect(changes(backend)).toEqual([{ op: 'add_user', user: expect.objectContaining({ name: 'carol', role: 'admin', password: 'long enough pw' }) }]);
  });

  it('grants credits on the server', async () => {
    const { backend } = orgServer();
    renderWindow('admin');
    await typeInto('grant-user', 'alice');
    await typeInto('grant-amount', '100');
    await typeInto('grant-reason', 'welcome');
    await user.click(screen.getByTestId('grant-submit'));
    expect(await screen.findByText('Granted 100 credits to alice.')).toBeInTheDocument();
    expect(changes(backend)).toEqual([{ op: 'add_entry', user: 'alice', entry: { kind: 'grant', amount: '100', reason: 'welcome' } }]);
  });

  it('adjusts a balance on the server by a negative amount, as the server names an adjustment', async () => {
    const { backend } = orgServer();
    renderWindow('admin');
    await typeInto('grant-user', 'alice');
    await user.click(within(screen.getByTestId('balance-kind')).getByLabelText('Adjust'));
    await typeInto('grant-amount', '-12.000001');
    await typeInto('grant-reason', 'double charge');
    await user.click(screen.getByTestId('grant-submit'));
    expect(await screen.findByText('Adjusted alice by -12.000001 credits.')).toBeInTheDocument();
    expect(changes(backend)).toEqual([{ op: 'add_entry', user: 'alice', entry: { kind: 'adjustment', amount: '-12.000001', reason: 'double charge' } }]);
  });

  it('reprices a model on the server with a reason, digit for digit', async () => {
    const { backend } = orgServer();
    renderWindow('admin');
    await user.click(await screen.findByTestId('org-tab-models'));
    const row = await screen.findByTestId('org-model-row');
    expect(row).toHaveTextContent('0.00015');
    await user.click(screen.getByTestId('org-model-edit-gpt-4o-mini'));
    const input = await screen.findByTestId('model-input-price');
    expect(input).toHaveValue('0.00015');
    await user.clear(input);
    await user.type(input, '0.000123456789');
    await typeInto('model-reason', 'new list price');
    await user.click(screen.getByTestId('model-save'));
    await waitFor(() => expect(screen.getByTestId('org-model-row')).toHaveTextContent('0.000123456789'));
    expect(changes(backend)).toEqual([
      {
        op: 'set_model',
        name: 'gpt-4o-mini',
        change: { input_usd_per_1k: '0.000123456789', output_usd_per_1k: '0.0006', reason: 'new list price', aliases: null, active: null },
      },
    ]);
  });

  it('changes the rate on the server and shows its history', async () => {
    const { backend } = orgServer();
    renderWindow('admin');
    await user.click(await screen.findByTestId('org-tab-rate'));
    expect(await screen.findByTestId('current-rate')).toHaveTextContent('10000 credits per USD');
    await typeInto('rate-input', '7.25');
    await typeInto('rate-reason', 'new quarter');
    await user.click(screen.getByTestId('rate-submit'));
    expect(await screen.findByText('Rate changed from 10000 to 7.25.')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('rate-history-row')).toHaveTextContent('new quarter'));
    expect(changes(backend)).toEqual([{ op: 'set_rate', change: { credits_per_usd: '7.25', reason: 'new quarter' } }]);
  });

  it('sets the guards every device enforces, one server change per field changed, credits exact', async () => {
    const { backend } = orgServer();
    renderWindow('admin');
    await user.click(await screen.findByTestId('org-tab-guards'));
    expect(await screen.findByTestId('guards-offline-allowance')).toHaveValue('12.5');
    expect(screen.getByTestId('guards-event-cap')).toHaveValue('500');
    await user.clear(screen.getByTestId('guards-daily-budget'));
    await typeInto('guards-daily-budget', '50.000001');
    await user.click(screen.getByTestId('guards-save'));
    await waitFor(() => expect(screen.getByTestId('guards-daily-budget')).toHaveValue('50.000001'));
    expect(changes(backend)).toEqual([{ op: 'set_policy', change: { key: 'daily_budget', value: '50.000001' } }]);
    await pickOption('guards-when-unchecked', 'Allow it and record it');
    await user.click(screen.getByTestId('guards-save'));
    await waitFor(() => expect(changes(backend).at(-1)).toEqual({ op: 'set_policy', change: { key: 'when_unchecked', value: 'allow' } }));
  });

  it('prices side calls on the server: the choice and the fixed charge per call, each its own change, credits exact', async () => {
    const { backend, state } = orgServer();
    state.policy = { ...state.policy, side_call_fixed_micros: 1_500 };
    renderWindow('admin');
    await user.click(await screen.findByTestId('org-tab-guards'));
    await screen.findByTestId('guards-side-calls');
    await pickOption('guards-side-calls', 'Fixed charge');
    expect(screen.getByTestId('guards-side-call-fixed')).toHaveValue('0.0015');
    await user.clear(screen.getByTestId('guards-side-call-fixed'));
    await typeInto('guards-side-call-fixed', '0.000123');
    await user.click(screen.getByTestId('guards-save'));
    await waitFor(() =>
      expect(changes(backend)).toEqual([
        { op: 'set_policy', change: { key: 'side_calls', value: 'fixed' } },
        { op: 'set_policy', change: { key: 'side_call_fixed', value: '0.000123' } },
      ]),
    );
    expect(state.policy).toMatchObject({ side_calls: 'fixed', side_call_fixed_micros: 123 });
  });

  it('reports the org spend by any grouping and filter, and exports the very same query as CSV', async () => {
    const { backend } = orgServer();
    renderWindow('admin');
    await user.click(await screen.findByTestId('org-tab-report'));
    const [first] = await screen.findAllByTestId('report-row');
    expect(first).toHaveAttribute('data-key', 'alice');
    expect(first).toHaveTextContent('4.25');

    await user.click(within(screen.getByTestId('report-by')).getByLabelText('Day'));
    await waitFor(() => expect(screen.getAllByTestId('report-row')).toHaveLength(2));
    expect(screen.getByTestId('spend-chart')).toBeInTheDocument();
    await pickOption('report-filter-user', 'ALICE');
    // This month so far, by day, for alice alone.
    const month = { from: dayjs().startOf('month').format('YYYY-MM-DD'), to: dayjs().format('YYYY-MM-DD') };
    await waitFor(() => expect(calls(backend).at(-1)).toEqual({ op: 'report', query: { by: 'day', ...month, user: 'alice' } }));
    expect(screen.getAllByTestId('report-row').map((r) => r.getAttribute('data-micros'))).toEqual(['1250000', '3000000']);

    await user.click(screen.getByTestId('export-csv'));
    expect(await screen.findByTestId('export-result')).toHaveTextContent('tokendesk-org-report.csv');
    const shown = callsOf(backend, 'report').at(-1)!;
    expect(backend.argsOf('org_admin_export_report')).toEqual([{ query: shown.query }]);
    expect(shown.query).toEqual({ by: 'day', ...month, user: 'alice' });
  });

  it('sends no filter the admin cleared, to the report or its CSV', async () => {
    const { backend } = orgServer();
    renderWindow('admin');
    await user.click(await screen.findByTestId('org-tab-report'));
    await screen.findAllByTestId('report-row');
    const month = { from: dayjs().startOf('month').format('YYYY-MM-DD'), to: dayjs().format('YYYY-MM-DD') };
    await pickOption('report-filter-user', 'ALICE');
    await waitFor(() => expect(calls(backend).at(-1)).toEqual({ op: 'report', query: { by: 'user', ...month, user: 'alice' } }));

    // Cleared, the filter is gone from the request: no empty or null `user` the server would filter by.
    await user.click(within(screen.getByTestId('report-filter-user')).getByLabelText('close-circle'));
    await waitFor(() => expect(callsOf(backend, 'report')).toHaveLength(3));
    expect(callsOf(backend, 'report').at(-1)!.query).toStrictEqual({ by: 'user', ...month });

    await user.click(screen.getByTestId('export-csv'));
    expect(await screen.findByTestId('export-result')).toHaveTextContent('tokendesk-org-report.csv');
    expect(backend.argsOf('org_admin_export_report')[0].query).toStrictEqual({ by: 'user', ...month });
  });

  it('speaks Chinese', async () => {
    orgServer();
    await act(() => i18n.changeLanguage('zh'));
    renderWindow('admin');
    expect(await screen.findByTestId('org-tab-people')).toHaveTextContent('用户与设备');
    expect(screen.getByTestId('org-tab-report')).toHaveTextContent('组织报表');
    expect(screen.getByTestId('org-admin-session')).toHaveTextContent('已以 root 登录');
    const [live] = await screen.findAllByTestId('org-device-row');
    expect(live).toHaveTextContent('-420 秒');
    await user.click(screen.getByTestId('enroll-code-alice'));
    expect(await screen.findByText(/只显示这一次/)).toBeInTheDocument();
  });
});
