// A fake org server behind the shell's `org_admin*` commands, answering like the real one as far as the org
// console uses it: users, devices, apps, models, rate, guards, the report, held events, redemption codes and
// the reconciliation with Dify (its workspaces, runs, daily control and findings).
// `org_admin` takes one typed `OrgRequest` and answers `{ op, answer }` under the request's own `op`.
import type {
  CodeBatch,
  DailyControl,
  Device,
  DifyConnection,
  DifyRecord,
  DifyTest,
  Finding,
  NewCodes,
  OrgAdminStatus,
  OrgAnswerOf,
  OrgApp,
  OrgHeld,
  OrgModel,
  OrgPolicy,
  OrgRate,
  OrgRequest,
  ConnectionRun,
  RedemptionCode,
  Report,
  ReportQuery,
  UserSummary,
} from '../orgApi';
import { screen } from '@testing-library/react';
import { parseMicros } from '../format';
import { type Backend, fakeBackend, reject } from './backend';
import { renderWindow } from './render';
import { user } from './user';

export const SERVER = 'https://td.example.com';
export const signedIn: OrgAdminStatus = { server: SERVER, admin: 'root', expires_at: '2026-12-02T20:00:00Z' };
export const signedOut: OrgAdminStatus = { server: SERVER, admin: null, expires_at: null };

export const person = (name: string, balance_micros: number, role: 'staff' | 'admin' = 'staff', overrides: Partial<UserSummary> = {}): UserSummary => ({
  user: { id: `id-${name}`, name, display_name: name.toUpperCase(), role },
  balance_micros,
  devices: 1,
  created_at: '2026-11-01T08:00:00Z',
  daily_budget_micros: null,
  monthly_budget_micros: null,
  spent_today_micros: 0,
  spent_month_micros: 0,
  ...overrides,
});

export const device = (id: string, owner: string, overrides: Partial<Device> = {}): Device => ({
  id,
  user: owner,
  name: `${owner}-laptop`,
  revoked: false,
  last_seen: '2026-12-02T09:00:00Z',
  clock_skew_ms: 1500,
  last_seq: 3,
  created_at: '2026-11-01T08:00:00Z',
  unreported_replies: 0,
  ...overrides,
});

export const gpt: OrgModel = {
  name: 'gpt-4o-mini',
  price: { input_per_1k: '0.00015', output_per_1k: '0.0006' },
  aliases: [],
  active: true,
  updated_at: '2026-11-01T08:00:00Z',
};

export const supportBot: OrgApp = {
  id: '0193-app-1',
  name: 'Support bot',
  share_url: 'https://dify.example.com/chat/support',
  pricing: 'model',
  model: 'gpt-4o-mini',
  enabled: true,
};

export const heldEvent = (id: string, overrides: Partial<OrgHeld> = {}): OrgHeld => ({
  id,
  reason: 'cap',
  detail: '900 credits is above the cap of 500',
  user: 'alice',
  device_id: 'd1',
  app_id: supportBot.id,
  message_id: `msg-${id}`,
  device_amount_micros: 900_000_000,
  server_amount_micros: 900_000_000,
  status: 'pending',
  received_at: '2026-12-02T09:30:00Z',
  decided_by: null,
  decided_at: null,
  note: null,
  entry_id: null,
  ...overrides,
});

export const redemptionCode = (id: string, overrides: Partial<RedemptionCode> = {}): RedemptionCode => ({
  id,
  batch_id: '0193-batch-00000001',
  amount_micros: 50_000_000,
  reason: 'onboarding',
  created_by: 'root',
  created_at: '2026-12-01T08:00:00Z',
  expires_at: null,
  redeemed_by: null,
  redeemed_at: null,
  entry_id: null,
  ...overrides,
});

/** The Dify workspace the support bot is served from, signed in to with a console account. */
export const difyConnection = (id: string, overrides: Partial<DifyConnection> = {}): DifyConnection => ({
  id,
  name: 'Main workspace',
  console_url: 'https://dify.example.com',
  auth: 'password',
  email: 'ops@example.com',
  workspace_id: null,
  time_zone: 'Asia/Shanghai',
  reconcile_from: '2026-11-25',
  created_by: 'root',
  created_at: '2026-11-25T08:00:00Z',
  apps: [{ app_id: supportBot.id, app_name: supportBot.name, console_app_id: 'c0ffee-01', mode: 'advanced-chat' }],
  last_run_at: '2026-12-02T09:00:00Z',
  next_run_at: '2026-12-02T10:00:00Z',
  failures: 0,
  last_error: null,
  missing_endpoints: [],
  sign_in_refused_at: null,
  ...overrides,
});

/** What a run of one connection did: counts of records and of the findings it added. */
export const connectionRun = (connection_id: string, overrides: Partial<ConnectionRun> = {}): ConnectionRun => ({
  connection_id,
  connection: 'Main workspace',
  error: null,
  missing_endpoints: [],
  records_read: 42,
  settled: 37,
  true_ups: 2,
  reported_by_dify: 1,
  unattributed: 1,
  charges_without_record: 1,
  waiting: 3,
  held: 1,
  ...overrides,
});

/** Dify's record of one chat message. */
export const difyRecord = (record_id: string, overrides: Partial<DifyRecord> = {}): DifyRecord => ({
  record_id,
  kind: 'message',
  conversation_id: 'conv-7f3a',
  from_source: 'api',
  session_id: 'td-alice-d1',
  status: 'normal',
  prompt_tokens: 1200,
  completion_tokens: 300,
  total_price: '0.00036',
  currency: 'USD',
  created_at: '2026-12-02T08:15:00Z',
  ...overrides,
});

export const finding = (id: string, overrides: Partial<Finding> = {}): Finding => ({
  id,
  kind: 'true_up',
  app_id: supportBot.id,
  app_name: supportBot.name,
  user: 'alice',
  device_id: 'd1',
  entry_id: `entry-${id}`,
  ledger_micros: 1_500_000,
  dify_micros: 3_600_000,
  detail: 'Dify counted 1,500 tokens; the device reported 600',
  found_at: '2026-12-02T09:00:05Z',
  record: difyRecord(`msg-${id}`),
  record_id: `msg-${id}`,
  ...overrides,
});

export const dailyControl = (day: string, overrides: Partial<DailyControl> = {}): DailyControl => ({
  app_id: supportBot.id,
  app_name: supportBot.name,
  day,
  dify_tokens: 15_000,
  dify_price: '0.0036',
  dify_currency: 'USD',
  ledger_tokens: 15_000,
  ledger_micros: 36_000_000,
  token_gap: 0,
  ...overrides,
});

/** The request of operation `Op`. */
export type OrgRequestOf<Op extends OrgRequest['op']> = Extract<OrgRequest, { op: Op }>;

/** Credits as a decimal string to integer micro-credits, exactly as the server parses them; null: not credits (or negative). */
export function creditsToMicros(text: string): number | null {
  const micros = text.startsWith('-') ? null : parseMicros(text);
  return micros === null ? null : Number(micros);
}

/** The policy keys set to one of a few words rather than to credits. */
const CHOICES = new Set(['when_unchecked', 'side_calls']);

/** The server's admin API, as far as the org console uses it, answering like the real one. */
export function orgServer(status: OrgAdminStatus = signedIn) {
  const state = {
    status,
    users: [person('root', 0, 'admin'), person('alice', 2_500_000_000)],
    devices: [device('d1', 'alice', { clock_skew_ms: -420_000 }), device('d2', 'alice', { revoked: true, last_seen: null, clock_skew_ms: null })],
    models: [gpt],
    apps: [supportBot],
    held: [] as OrgHeld[],
    codes: [] as RedemptionCode[],
    policy: {
      integration_enabled: true,
      min_balance_micros: 0,
      event_cap_micros: 500_000_000,
      flood_max_per_minute: 20,
      low_balance_micros: 100_000_000,
      max_tokens_per_event: 200_000,
      daily_budget_micros: 0,
      monthly_budget_micros: 0,
      offline_allowance_micros: 12_500_000,
      lease_seconds: 86_400,
      time_zone: 'UTC',
      when_unchecked: 'block',
      side_calls: 'estimate',
      side_call_fixed_micros: 0,
    } as OrgPolicy,
    rate: { credits_per_usd: '10000', history: [] } as OrgRate,
    dify: [difyConnection('dc1')] as DifyConnection[],
    /** What testing each connection finds; a connection without one signs in and links what it has. */
    difyTests: {} as Record<string, DifyTest>,
    runs: [connectionRun('dc1')] as ConnectionRun[],
    days: [
      dailyControl('2026-12-01'),
      dailyControl('2026-12-02', { dify_tokens: 18_500, ledger_tokens: 17_900, ledger_micros: 42_960_000, token_gap: 600 }),
      dailyControl('2026-12-03', { dify_tokens: null, dify_price: null, dify_currency: null, ledger_tokens: 900, ledger_micros: 2_160_000, token_gap: null }),
    ] as DailyControl[],
    findings: [
      finding('f1'),
      finding('f2', { kind: 'reported_by_dify', user: 'bob', device_id: null, ledger_micros: null, dify_micros: 2_400_000, detail: 'No device reported this reply' }),
      finding('f3', {
        kind: 'unattributed',
        user: null,
        device_id: null,
        entry_id: null,
        ledger_micros: null,
        dify_micros: 1_200_000,
        detail: 'No session id: the share URL carried no user',
        record: difyRecord('msg-f3', { session_id: null }),
      }),
      finding('f4', { kind: 'charge_without_record', dify_micros: null, ledger_micros: 900_000, detail: 'Dify has no such message', record: null }),
    ] as Finding[],
  };
  const report = (query: ReportQuery): Report => ({
    by: query.by ?? 'user',
    from: query.from ?? null,
    to: query.to ?? null,
    user: query.user ?? null,
    app: query.app ?? null,
    model: query.model ?? null,
    rows: query.by === 'day'
      ? [
          { key: '2026-12-01', credits_micros: 1_250_000, prompt_tokens: 100, completion_tokens: 20, messages: 1 },
          { key: '2026-12-02', credits_micros: 3_000_000, prompt_tokens: 300, completion_tokens: 40, messages: 2 },
        ]
      : [{ key: 'alice', credits_micros: 4_250_000, prompt_tokens: 400, completion_tokens: 60, messages: 3 }],
  });
  /** An app as the server would store it: a share URL with a kind and a token, and a binding that fits its pricing. */
  const checkedApp = (app: OrgApp): OrgApp => {
    if (!/^https?:\/\/[^/]+(\/.*)?\/(chat|chatbot|completion|workflow)\/[\w-]+$/.test(app.share_url)) {
      reject('bad_share_url', `"${app.share_url}" is not a Dify share URL`);
    }
    if (app.pricing === 'model' && !app.model) reject('model_required', 'an app priced by model names the model it is bound to');
    if (app.pricing === 'dify_price' && app.model) reject('model_not_allowed', "an app priced by Dify's reported price is bound to no model");
    return app;
  };
  const micros = (text: string | null) => (text === null ? null : (creditsToMicros(text) ?? reject('bad_amount', `"${text}" is not an amount of credits`)));
  /** Each operation as the server runs it, answering with the wire type of its `op`. */
  const ops: { [Op in OrgRequest['op']]: (request: OrgRequestOf<Op>) => OrgAnswerOf<Op> } = {
    users: () => state.users,
    add_user: ({ user: added }) => {
      if (state.users.some((u) => u.user.name === added.name)) reject('already_exists', `a user ${added.name} exists`);
      state.users = [...state.users, person(added.name, 0, added.role)];
      return state.users.at(-1)!.user;
    },
    set_budget: ({ user: name, budget }) => {
      const changed = { daily_budget_micros: micros(budget.daily), monthly_budget_micros: micros(budget.monthly) };
      state.users = state.users.map((u) => (u.user.name === name ? { ...u, ...changed } : u));
      return state.users.find((u) => u.user.name === name) ?? reject('not_found', `no user ${name}`);
    },
    enrollment_code: ({ user: owner }) => ({
      code: 'K7QF-93XD',
      user: owner,
      expires_at: '2026-12-09T08:00:00Z',
      join_link: `tokendesk://join?server=${encodeURIComponent(SERVER)}&code=K7QF-93XD`,
    }),
    devices: () => state.devices,
    revoke_device: ({ id }) => {
      state.devices = state.devices.map((d) => (d.id === id ? { ...d, revoked: true } : d));
      return state.devices.find((d) => d.id === id) ?? reject('not_found', `no device ${id}`);
    },
    add_entry: ({ user: owner, entry }) => {
      // Only these kinds an admin may add; the shell refuses any other name before it reaches the server.
      if (!['grant', 'topup', 'adjustment'].includes(entry.kind)) reject('invalid_args', `org_admin: unknown entry kind ${entry.kind}`);
      const negative = entry.amount.startsWith('-');
      if (negative && entry.kind !== 'adjustment') reject('bad_amount', 'only an adjustment may be negative');
      const amount_micros = creditsToMicros(entry.amount.replace(/^-/, '')) ?? reject('bad_amount', `"${entry.amount}" is not an amount of credits`);
      return {
        id: 'e1',
        user: owner,
        kind: entry.kind,
        amount_micros: negative ? -amount_micros : amount_micros,
        counted: true,
        device_id: null,
        device_seq: null,
        occurred_at: '2026-12-02T10:00:00Z',
        received_at: '2026-12-02T10:00:00Z',
        actor: 'root',
        reason: entry.reason,
        reverses_id: null,
        usage: null,
        redemption_code_id: null,
      };
    },
    models: () => state.models,
    model_history: () => [],
    set_model: ({ name, change }) => {
      const changed = { ...gpt, name, price: { input_per_1k: change.input_usd_per_1k, output_per_1k: change.output_usd_per_1k } };
      state.models = [...state.models.filter((m) => m.name !== changed.name), changed];
      return changed;
    },
    rate: () => state.rate,
    set_rate: ({ change: { credits_per_usd, reason } }) => {
      const change = { old_rate: state.rate.credits_per_usd, new_rate: credits_per_usd, changed_by: 'root', reason, changed_at: '2026-12-02T10:00:00Z', config_version: 7 };
      state.rate = { credits_per_usd, history: [change, ...state.rate.history] };
      return state.rate;
    },
    apps: () => state.apps,
    add_app: ({ app: added }) => {
      const app = checkedApp({ ...added, id: `0193-app-${state.apps.length + 1}`, enabled: true });
      if (state.apps.some((a) => a.share_url === app.share_url)) reject('exists', `another app has the share URL ${app.share_url}`);
      state.apps = [...state.apps, app];
      return app;
    },
    update_app: ({ id, change }) => {
      const current = state.apps.find((a) => a.id === id) ?? reject('not_found', `no app ${id}`);
      const pricing = change.pricing ?? current.pricing;
      const updated = checkedApp({
        ...current,
        name: change.name ?? current.name,
        share_url: change.share_url ?? current.share_url,
        pricing,
        model: change.model ?? (pricing === 'model' ? current.model : null),
        enabled: change.enabled ?? current.enabled,
      });
      state.apps = state.apps.map((a) => (a.id === updated.id ? updated : a));
      return updated;
    },
    policy: () => state.policy,
    set_policy: ({ change: { key, value } }) => {
      const field = CHOICES.has(key) ? { [key]: value } : { [`${key}_micros`]: micros(value) };
      state.policy = { ...state.policy, ...field };
      return state.policy;
    },
    held: ({ all }) => state.held.filter((h) => all || h.status === 'pending'),
    decide_held: ({ id, verdict, note }) => {
      const event = state.held.find((h) => h.id === id) ?? reject('not_found', `no held event ${id}`);
      if (event.status !== 'pending') reject('already_decided', `held event ${id} is ${event.status} already`);
      const approve = verdict === 'approve';
      const decided: OrgHeld = {
        ...event,
        status: approve ? 'approved' : 'rejected',
        decided_by: 'root',
        decided_at: '2026-12-02T10:00:00Z',
        note,
        entry_id: approve ? 'entry-approved' : event.entry_id,
      };
      state.held = state.held.map((h) => (h.id === id ? decided : h));
      return decided;
    },
    redemption_codes: () => state.codes,
    report: ({ query }) => report(query),
    dify_connections: () => state.dify,
    add_dify_connection: ({ connection }) => {
      if (!/^https?:\/\/[^/\s]+/.test(connection.console_url)) reject('bad_console_url', `"${connection.console_url}" is not a URL`);
      if (state.dify.some((c) => c.name === connection.name)) reject('exists', `a connection ${connection.name} exists`);
      const { credentials } = connection;
      const added = difyConnection(`dc${state.dify.length + 1}`, {
        name: connection.name,
        console_url: connection.console_url,
        auth: credentials.kind,
        email: credentials.kind === 'password' ? credentials.email : null,
        workspace_id: credentials.kind === 'admin_api_key' ? credentials.workspace_id : null,
        time_zone: connection.time_zone ?? 'UTC',
        reconcile_from: connection.since ?? '2026-11-25',
        created_at: '2026-12-02T10:00:00Z',
        apps: [],
        last_run_at: null,
      });
      state.dify = [...state.dify, added];
      return added;
    },
    test_dify_connection: ({ id }) => {
      const connection = state.dify.find((c) => c.id === id) ?? reject('not_found', `no Dify connection ${id}`);
      const result = state.difyTests[id] ?? {
        signed_in: true,
        error: null,
        workspace_apps: connection.apps.length,
        linked: connection.apps,
        unmatched: state.apps.filter((a) => !connection.apps.some((l) => l.app_id === a.id)).map((a) => a.name),
        missing_endpoints: connection.missing_endpoints,
      };
      // As the server: a sign-in lets the scheduler run the workspace again.
      if (result.signed_in) connection.sign_in_refused_at = null;
      return result;
    },
    reconcile: () => ({ connections: state.runs }),
    reconciliation: ({ query }) => ({
      days: state.days.filter((d) => !query.app_id || d.app_id === query.app_id),
      findings: state.findings.filter((f) => !query.app_id || f.app_id === query.app_id),
    }),
  };
  /** The shell's `org_admin`: one typed request, answered under its own `op`; nothing without a session. */
  const call = ({ request }: Record<string, unknown>) => {
    if (!state.status.admin) reject('unauthorized', 'sign in to the org server first');
    const asked = request as OrgRequest;
    const run = (ops[asked.op] as ((request: OrgRequest) => unknown) | undefined) ?? reject('invalid_args', `org_admin: no operation ${String(asked.op)}`);
    return { op: asked.op, answer: run(asked) };
  };
  /** Like the shell: the server makes the codes, and the shell saves their CSV to Downloads. */
  const createCodes = (args: Record<string, unknown>): CodeBatch => {
    const { count, amount, reason, validDays } = args as unknown as NewCodes;
    const amount_micros = creditsToMicros(amount) ?? reject('bad_amount', `"${amount}" is not an amount of credits`);
    const batch_id = `0193-batch-${String(state.codes.length + 1).padStart(8, '0')}`;
    const expires_at = validDays === null ? null : '2026-12-09T08:00:00Z';
    const codes = Array.from({ length: count }, (_, i) => ({ id: `${batch_id}-c${i + 1}`, code: `RDM-${i + 1}-QX7P` }));
    const rows = codes.map((c) => redemptionCode(c.id, { batch_id, amount_micros, reason, expires_at, created_at: '2026-12-02T10:00:00Z' }));
    state.codes = [...rows.reverse(), ...state.codes];
    return { batch_id, amount_micros, expires_at, codes, csv_path: `/home/u/Downloads/tokendesk-codes-${batch_id}.csv` };
  };
  const backend = fakeBackend({
    way_in: () => ({ mode: 'org', suggested_server: null, offer_island: true, offer_demo: true }),
    org_admin_status: () => state.status,
    org_admin_login: ({ name, password }) => {
      if (password !== 'correct horse') reject('unauthorized', 'wrong name or password');
      state.status = { ...signedIn, admin: String(name) };
      return state.status;
    },
    org_admin_logout: () => {
      state.status = signedOut;
      return null;
    },
    org_admin: call,
    org_admin_export_report: () => ({ path: '/home/u/Downloads/tokendesk-org-report.csv', rows: 2 }),
    org_admin_create_codes: createCodes,
  });
  /** `call` is the server's router, for a test that puts a refusal in front of it. */
  return { backend, state, call };
}

/** The operations that only read, as the shell's `OrgRequest::writes` tells them apart. */
const READS = new Set<OrgRequest['op']>([
  'users',
  'devices',
  'models',
  'model_history',
  'rate',
  'apps',
  'policy',
  'held',
  'redemption_codes',
  'report',
  'dify_connections',
  'reconciliation',
]);

/** Every request the console sent the server through `org_admin`, in order, refused ones too. */
export const calls = (backend: Backend) => backend.argsOf('org_admin').map((a) => a.request as OrgRequest);

/** The requests of operation `op`, in order. */
export const callsOf = <Op extends OrgRequest['op']>(backend: Backend, op: Op) =>
  calls(backend).filter((request): request is OrgRequestOf<Op> => request.op === op);

/** The requests that change something on the server. */
export const changes = (backend: Backend) => calls(backend).filter((request) => !READS.has(request.op));

/** Opens the admin window signed in to the org server and, once the console is there, the tab `tab`. */
export async function openOrgConsole(tab?: string) {
  renderWindow('admin');
  // The first render of the whole console takes a while on a busy machine.
  const label = await screen.findByTestId(`org-tab-${tab ?? 'people'}`, {}, { timeout: 5000 });
  if (tab) await user.click(label);
}
