import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import i18n from '../../i18n';
import { callsOf, changes, device, difyConnection, openOrgConsole, orgServer, supportBot } from '../../test/orgServer';
import { pickOption, typeInto } from '../../test/render';
import { user } from '../../test/user';

const rowOf = (testId: string, attr: string, value: string) =>
  screen.getAllByTestId(testId).find((r) => r.getAttribute(attr) === value)!;

/** The main workspace, whose sign-in Dify refused once, and one signed in to with an admin key whose last
 * runs failed. */
function serverWithWorkspaces() {
  const server = orgServer();
  server.state.dify = [
    difyConnection('dc1', {
      failures: 1,
      last_error: 'Dify refused the sign-in: Invalid email or password.',
      sign_in_refused_at: '2026-12-02T09:00:00Z',
    }),
    difyConnection('dc2', {
      name: 'Lab workspace',
      console_url: 'https://lab.dify.example.com',
      auth: 'admin_api_key',
      email: null,
      workspace_id: 'ws-42',
      apps: [],
      last_run_at: null,
      failures: 2,
      last_error: 'Dify refused the sign-in (401)',
      missing_endpoints: ['statistics/token-costs'],
    }),
  ];
  server.state.difyTests.dc2 = {
    signed_in: false,
    error: 'Dify refused the sign-in (401)',
    workspace_apps: 0,
    linked: [],
    unmatched: ['Support bot'],
    missing_endpoints: [],
  };
  return server;
}

describe('org console: reconciliation with Dify', () => {
  it('lists the workspaces with their sign-in, apps and state, and tests one', async () => {
    const { backend } = serverWithWorkspaces();
    await openOrgConsole('reconcile');
    await waitFor(() => expect(screen.getAllByTestId('dify-connection-row')).toHaveLength(2));
    const main = rowOf('dify-connection-row', 'data-connection', 'dc1');
    expect(main).toHaveTextContent('Main workspace');
    expect(main).toHaveTextContent('https://dify.example.com');
    expect(main).toHaveTextContent('ops@example.com');
    expect(main).toHaveTextContent('Support bot');
    expect(within(main).getByTestId('dify-paused')).toHaveTextContent('Automatic runs stopped at');
    const lab = rowOf('dify-connection-row', 'data-connection', 'dc2');
    expect(lab).toHaveTextContent('admin API key');
    expect(lab).toHaveTextContent('never');
    expect(lab).toHaveTextContent('Dify refused the sign-in (401)');
    expect(lab).toHaveTextContent('statistics/token-costs');

    await user.click(screen.getByTestId('dify-test-dc1'));
    const passed = await screen.findByTestId('dify-test-result');
    expect(passed).toHaveTextContent('Test of Main workspace');
    expect(passed).toHaveTextContent('Signed in: 1 apps in the workspace');
    expect(passed).toHaveTextContent('Support bot (advanced-chat)');
    // Signed in: the scheduler runs it again, and the row says so.
    await waitFor(() =>
      expect(within(rowOf('dify-connection-row', 'data-connection', 'dc1')).queryByTestId('dify-paused')).toBeNull(),
    );
    expect(within(rowOf('dify-connection-row', 'data-connection', 'dc2')).queryByTestId('dify-paused')).toBeNull();

    await user.click(screen.getByTestId('dify-test-dc2'));
    await waitFor(() => expect(screen.getByTestId('dify-test-result')).toHaveTextContent('Could not sign in'));
    const failed = screen.getByTestId('dify-test-result');
    expect(failed).toHaveTextContent('Dify refused the sign-in (401)');
    expect(within(failed).getByText('Support bot')).toBeInTheDocument();
    expect(callsOf(backend, 'test_dify_connection')).toEqual([
      { op: 'test_dify_connection', id: 'dc1' },
      { op: 'test_dify_connection', id: 'dc2' },
    ]);
  });

  it('adds a workspace by account or by admin key, sending only the chosen credentials, and forgets the secrets', async () => {
    const { backend } = orgServer();
    await openOrgConsole('reconcile');
    await typeInto('dify-new-name', ' HR workspace ');
    await typeInto('dify-new-url', 'https://hr.dify.example.com');
    await typeInto('dify-new-email', 'hr@example.com');
    await typeInto('dify-new-password', 's3cret');
    expect(screen.getByTestId('dify-new-password')).toHaveAttribute('type', 'password');
    await user.click(screen.getByTestId('dify-new-submit'));
    expect(await screen.findByText('Connected HR workspace.')).toBeInTheDocument();
    await waitFor(() => expect(screen.getAllByTestId('dify-connection-row')).toHaveLength(2));
    expect(screen.getByTestId('dify-new-password')).toHaveValue('');

    await typeInto('dify-new-name', 'Lab');
    await typeInto('dify-new-url', 'https://lab.dify.example.com');
    await user.click(screen.getByTestId('dify-new-method-admin_api_key'));
    await typeInto('dify-new-key', 'adm-key-1');
    await typeInto('dify-new-workspace', 'ws-42');
    await user.clear(screen.getByTestId('dify-new-zone'));
    await typeInto('dify-new-zone', 'Asia/Shanghai');
    await user.click(screen.getByTestId('dify-new-submit'));
    await waitFor(() => expect(screen.getAllByTestId('dify-connection-row')).toHaveLength(3));
    expect(rowOf('dify-connection-row', 'data-connection', 'dc3')).toHaveTextContent('admin API key');
    expect(screen.queryByText('adm-key-1')).toBeNull();

    expect(changes(backend).filter((c) => c.op === 'add_dify_connection')).toEqual([
      {
        op: 'add_dify_connection',
        connection: {
          name: 'HR workspace',
          console_url: 'https://hr.dify.example.com',
          credentials: { kind: 'password', email: 'hr@example.com', password: 's3cret' },
          time_zone: 'UTC',
          since: null,
        },
      },
      {
        op: 'add_dify_connection',
        connection: {
          name: 'Lab',
          console_url: 'https://lab.dify.example.com',
          credentials: { kind: 'admin_api_key', key: 'adm-key-1', workspace_id: 'ws-42' },
          time_zone: 'Asia/Shanghai',
          since: null,
        },
      },
    ]);
  });

  it('reconciles now, for one app, and shows what each run did', async () => {
    const { backend, state } = orgServer();
    state.runs = [
      state.runs[0],
      { ...state.runs[0], connection_id: 'dc2', connection: 'Lab workspace', error: 'Dify is down (502)', missing_endpoints: ['statistics/token-costs'] },
    ];
    await openOrgConsole('reconcile');
    await pickOption('reconcile-app', supportBot.name);
    await user.click(screen.getByTestId('reconcile-run'));
    await waitFor(() => expect(screen.getAllByTestId('reconcile-result')).toHaveLength(2));
    const [main, lab] = screen.getAllByTestId('reconcile-result');
    expect(main).toHaveTextContent('Main workspace');
    expect(within(main).getByTestId('run-records_read')).toHaveTextContent('42');
    expect(within(main).getByTestId('run-settled')).toHaveTextContent('37');
    expect(within(main).getByTestId('run-true_ups')).toHaveTextContent('2');
    expect(within(main).getByTestId('run-waiting')).toHaveTextContent('3');
    expect(main).toHaveTextContent('Charges without record');
    expect(lab).toHaveTextContent('Stopped early: Dify is down (502)');
    expect(lab).toHaveTextContent('statistics/token-costs');
    expect(callsOf(backend, 'reconcile')).toEqual([{ op: 'reconcile', request: { app_id: supportBot.id, since: null } }]);
  });

  it('shows the daily control with its gaps, asked for the last 7 days and filtered by app', async () => {
    const { backend } = orgServer();
    await openOrgConsole('reconcile');
    await waitFor(() => expect(screen.getAllByTestId('daily-row')).toHaveLength(3));
    const even = rowOf('daily-row', 'data-day', '2026-12-01');
    expect(even).toHaveAttribute('data-gap', '0');
    expect(even).toHaveTextContent('36');
    expect(within(even).queryByTestId('token-gap')).toBeNull();
    const gap = rowOf('daily-row', 'data-day', '2026-12-02');
    expect(within(gap).getByTestId('token-gap')).toHaveTextContent('+600');
    expect(gap).toHaveTextContent('18,500');
    expect(gap).toHaveTextContent('0.0036 USD');
    expect(gap).toHaveTextContent('42.96');
    const unread = rowOf('daily-row', 'data-day', '2026-12-03');
    expect(unread).toHaveAttribute('data-gap', 'none');
    expect(within(unread).getAllByText('–')).toHaveLength(3);

    const [first] = callsOf(backend, 'reconciliation');
    const { from, to } = first.query;
    expect(new Date(`${to}T00:00:00Z`).getTime() - new Date(`${from}T00:00:00Z`).getTime()).toBe(6 * 86_400_000);
    await pickOption('daily-app', supportBot.name);
    await waitFor(() => expect(callsOf(backend, 'reconciliation').at(-1)).toEqual({ op: 'reconciliation', query: { from, to, app_id: supportBot.id } }));
  });

  it('lists the findings, filters them by kind, and opens a finding’s Dify record', async () => {
    orgServer();
    await openOrgConsole('reconcile');
    await waitFor(() => expect(screen.getAllByTestId('finding-row')).toHaveLength(4));
    const trueUp = rowOf('finding-row', 'data-finding', 'f1');
    expect(trueUp).toHaveTextContent('True-up');
    expect(trueUp).toHaveTextContent('alice');
    expect(trueUp).toHaveTextContent('msg-f1');
    expect(trueUp).toHaveTextContent('1.5');
    expect(trueUp).toHaveTextContent('3.6');
    expect(rowOf('finding-row', 'data-finding', 'f2')).toHaveTextContent('Reported by Dify');
    expect(rowOf('finding-row', 'data-finding', 'f3')).toHaveTextContent('Unattributed');

    await user.click(within(trueUp).getByRole('button', { name: /expand/i }));
    const record = await screen.findByTestId('finding-record');
    expect(record).toHaveTextContent('conv-7f3a');
    expect(record).toHaveTextContent('td-alice-d1');
    expect(record).toHaveTextContent('1,200 / 300');
    expect(record).toHaveTextContent('0.00036 USD');

    await pickOption('findings-kind', 'Charge without record');
    await waitFor(() => expect(screen.getAllByTestId('finding-row')).toHaveLength(1));
    const orphan = screen.getByTestId('finding-row');
    expect(orphan).toHaveAttribute('data-finding', 'f4');
    await user.click(within(orphan).getByRole('button', { name: /expand/i }));
    expect(await screen.findByTestId('finding-no-record')).toHaveTextContent('No Dify record');
  });

  it('shows each device’s missed replies, highlighted when there are any', async () => {
    const { state } = orgServer();
    state.devices = [device('d1', 'alice', { unreported_replies: 3 }), device('d3', 'bob')];
    await openOrgConsole();
    await waitFor(() => expect(screen.getAllByTestId('org-device-row')).toHaveLength(2));
    expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toContain('Missed replies');
    const [alice, bob] = screen.getAllByTestId('org-device-row');
    expect(within(alice).getByTestId('missed-replies')).toHaveTextContent('3');
    expect(within(bob).queryByTestId('missed-replies')).toBeNull();
  });

  it('speaks Chinese', async () => {
    orgServer();
    await act(() => i18n.changeLanguage('zh'));
    await openOrgConsole('reconcile');
    expect(screen.getByTestId('org-tab-reconcile')).toHaveTextContent('对账');
    await waitFor(() => expect(screen.getAllByTestId('finding-row')).toHaveLength(4));
    expect(rowOf('finding-row', 'data-finding', 'f1')).toHaveTextContent('校正');
    expect(rowOf('finding-row', 'data-finding', 'f2')).toHaveTextContent('Dify 记录计费');
    expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toEqual(expect.arrayContaining(['token 差额', 'Dify token 数']));
  });
});
