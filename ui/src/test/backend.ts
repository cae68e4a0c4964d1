// A fake Rust shell for tests: mocked IPC with canned answers that each test can override, a log of
// every command call, and the mocks' event bus so `emit` reaches the app's `listen` handlers.
import type { Channel } from '@tauri-apps/api/core';
import { emit } from '@tauri-apps/api/event';
import { mockIPC } from '@tauri-apps/api/mocks';
import type {
  Account,
  AdminStatus,
  App,
  ChargeEvent,
  CommandError,
  Dashboard,
  Entry,
  HeldEvent,
  HistoryPage,
  Model,
  MonitorStatus,
  Policy,
  Rate,
  RejectedEvent,
  Spend,
  SyncStatus,
} from '../api';
import { microsText, parseMicros } from '../format';

type Handler = (args: Record<string, unknown>) => unknown;

/** Credits as the shell sends them, a decimal string, as its integer `*_micros` twin. */
export function micros(credits: string): bigint {
  return parseMicros(credits) ?? reject('bad_amount', `"${credits}" is not an amount of credits`);
}

export function spend(credits: string, overrides: Partial<Spend> = {}): Spend {
  return { credits, credits_micros: Number(micros(credits)), prompt_tokens: 0, completion_tokens: 0, messages: 0, ...overrides };
}

export function dashboard(overrides: Partial<Dashboard> = {}): Dashboard {
  return {
    account: 'alice',
    balance: '9960.675',
    balance_micros: 9_960_675_000,
    credits_per_usd: '1000',
    balance_usd: '9.960675',
    low_balance: false,
    today: spend('39.325', { prompt_tokens: 12_345, completion_tokens: 678, messages: 3 }),
    month: spend('139.325', { prompt_tokens: 45_000, completion_tokens: 5_000, messages: 12 }),
    series: [],
    month_by_model: [
      { key: 'gpt-4o', spend: spend('100') },
      { key: '', spend: spend('39.325') },
    ],
    month_by_app: [{ key: '2', spend: spend('139.325') }],
    time_zone: 'Asia/Shanghai',
    ...overrides,
  };
}

/** A charge of `credits` (a negative one credits the account), priced at 1,000 credits per USD. */
export function charge(id: string, credits: string, overrides: Partial<Entry> = {}): Entry {
  const charged = micros(credits);
  return {
    id,
    account_id: 2,
    amount: microsText(-charged),
    amount_micros: Number(-charged),
    kind: 'charge',
    device_id: '0193-d1',
    created_at: '2026-11-24T08:30:00Z',
    actor: 'alice',
    reason: null,
    reverses_id: null,
    held_id: null,
    usage: {
      pricing: 'model',
      app_id: 2,
      app_name: 'Support bot',
      model: 'gpt-4o',
      conversation_id: 'conv-1',
      message_id: `msg-${id}`,
      prompt_tokens: 1033,
      completion_tokens: 135,
      price: { input_per_1k: '0.0025', output_per_1k: '0.01' },
      credits_per_usd: '1000',
      // At 1,000 credits per USD, micro-USD are thousandths of micro-credits (every fixture's amount is whole ones).
      usd_cost: microsText(charged / 1000n),
      dify_total_price: null,
      dify_currency: null,
      estimated: false,
      side_call: null,
    },
    ...overrides,
  };
}

export function page(entries: Entry[], next_cursor: string | null = null): HistoryPage {
  return { entries, next_cursor };
}

export function monitor(overrides: Partial<MonitorStatus> = {}): MonitorStatus {
  return {
    chat_open: true,
    chat_url: 'http://127.0.0.1:8765/chat/demo',
    relay_seen_at: '2026-11-24T08:29:00Z',
    relay_metered: true,
    last_send: { endpoint: 'chat-messages', at: '2026-11-24T08:29:30Z', allowed: true, code: null },
    last_event_at: '2026-11-24T08:30:00Z',
    last_outcome: 'charged',
    integration_enabled: true,
    demo: true,
    sync: null,
    ...overrides,
  };
}

/** An org device's sync status: online, synced a minute ago. */
export function syncStatus(overrides: Partial<SyncStatus> = {}): SyncStatus {
  return {
    enrolled: true,
    server: 'https://td.example.com',
    org: 'acme',
    user: 'alice',
    device_id: '0193-d1',
    config_version: 4,
    pending: 0,
    acked_seq: 12,
    last_sync: '2026-11-24T08:29:00Z',
    last_error: null,
    lease_left_micros: 250_000_000,
    lease_left: '250',
    lease_expires_at: '2026-11-25T08:29:00Z',
    revoked: false,
    lease_refusal: null,
    budget: null,
    ...overrides,
  };
}

export const APPS: App[] = [
  { id: 1, name: 'Old bot', share_url: 'http://dify.local/chat/old', origin: 'http://dify.local', share_token: 'old', pricing: 'model', model_id: 1, model: 'gpt-4o', enabled: false, demo: false, created_at: '2026-11-01T00:00:00Z' },
  { id: 2, name: 'Support bot', share_url: 'http://dify.local/chat/abc', origin: 'http://dify.local', share_token: 'abc', pricing: 'model', model_id: 1, model: 'gpt-4o', enabled: true, demo: false, created_at: '2026-11-01T00:00:00Z' },
];

export function model(name: string, input: string, output: string, overrides: Partial<Model> = {}): Model {
  return {
    id: name.length,
    name,
    input_usd_per_1k: input,
    output_usd_per_1k: output,
    active: true,
    needs_review: false,
    aliases: [],
    created_by: 'seed',
    created_at: '2026-11-01T00:00:00Z',
    updated_at: '2026-11-01T00:00:00Z',
    ...overrides,
  };
}

export const MODELS: Model[] = [
  model('gpt-4o', '0.0025', '0.01', { aliases: ['gpt-4o-2024-08-06'] }),
  model('gpt-4o-mini', '0.00015', '0.0006', { needs_review: true }),
  model('legacy-1', '0.03', '0.06', { active: false }),
];

/** `count` models `model-0001`…, each with an alias `alias-0001`…: a price map's worth, for the admin's tables and pickers. */
export function manyModels(count: number): Model[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(4, '0');
    return model(`model-${n}`, '0.001', '0.002', { id: i + 1, aliases: [`alias-${n}`] });
  });
}

export const ACCOUNTS: Account[] = [
  { id: 1, name: 'admin', display_name: 'Admin', role: 'admin', balance: '0', balance_micros: 0, password_set: true, created_at: '2026-11-01T00:00:00Z' },
  { id: 2, name: 'alice', display_name: 'Alice Wang', role: 'staff', balance: '9960.675', balance_micros: 9_960_675_000, password_set: false, created_at: '2026-11-01T00:00:00Z' },
];

export const RATE: Rate = {
  credits_per_usd: '1000',
  history: [
    { id: 2, old_rate: '500', new_rate: '1000', changed_by: 'admin', reason: 'new budget year', changed_at: '2026-11-02T08:00:00Z' },
    { id: 1, old_rate: null, new_rate: '500', changed_by: 'seed', reason: 'initial rate', changed_at: '2026-11-01T00:00:00Z' },
  ],
};

export const POLICY: Policy = {
  integration_enabled: true,
  min_balance: '1',
  event_cap: '500',
  flood_max_per_minute: 30,
  low_balance: '100.5',
  max_tokens_per_event: 200_000,
  daily_budget: '0',
  monthly_budget: '0',
  when_unchecked: 'allow',
  side_calls: 'estimate',
  side_call_fixed: '0',
};

export function held(id: string, overrides: Partial<HeldEvent> = {}): HeldEvent {
  return {
    id,
    received_at: '2026-11-24T08:40:00Z',
    reason: 'cap',
    detail: '900 credits is above the cap of 500',
    account_id: 2,
    app_id: 2,
    app_name: 'Support bot',
    priced_as: null,
    message_id: `msg-${id}`,
    estimated: false,
    amount_micros: 900_000_000,
    amount: '900',
    payload: '{"event":"message_end"}',
    status: 'pending',
    decided_by: null,
    decided_at: null,
    decision_note: null,
    entry_id: null,
    ...overrides,
  };
}

export const REJECTED: RejectedEvent[] = [
  {
    id: 'r1',
    received_at: '2026-11-24T08:45:00Z',
    code: 'bad_usage',
    message: 'negative token count',
    source: 'relay',
    payload: '{"usage":{"prompt_tokens":-5}}',
    payload_bytes: 31,
  },
];

export function chargeEvent(overrides: Partial<ChargeEvent> = {}): ChargeEvent {
  return {
    outcome: 'charged',
    amount: '4.5',
    amount_micros: 4_500_000,
    code: null,
    reason: null,
    message_id: 'm-1',
    entry_id: 'e-new',
    held_id: null,
    audit_id: null,
    estimated: false,
    balance: '9956.175',
    balance_micros: 9_956_175_000,
    app_name: 'Support bot',
    ...overrides,
  };
}

export const session = (minutes = 30): AdminStatus => ({
  password_set: true,
  session_expires_at: new Date(Date.now() + minutes * 60_000).toISOString(),
});

/** Sends on a channel a command was given, as Rust does: the `index`-th message, to the channel's callback. */
export function sendOnChannel<T>(channel: Channel<T>, index: number, message: T): void {
  const internals = (window as unknown as { __TAURI_INTERNALS__: { runCallback(id: number, data: unknown): void } }).__TAURI_INTERNALS__;
  internals.runCallback(channel.id, { index, message });
}

/** A rejection shaped like the shell's. Handlers throw it; mockIPC turns it into a rejected invoke. */
export function reject(code: string, message = code): never {
  throw { code, message } satisfies CommandError;
}

export interface Backend {
  /** Every command call, in order, with its arguments. */
  calls: { cmd: string; args: Record<string, unknown> }[];
  argsOf(cmd: string): Record<string, unknown>[];
  /** Replaces one command's handler mid-test. */
  on(cmd: string, handler: Handler): void;
}

// Like the shell, these announce `ledger-changed` when they succeed.
const ADMIN_CHANGES = new Set([
  'admin_set_rate',
  'admin_adjust_balance',
  'admin_reverse',
  'admin_set_model',
  'admin_set_model_active',
  'admin_set_model_aliases',
  'admin_import_models',
  'admin_add_app',
  'admin_update_app',
  'admin_set_app_enabled',
  'admin_set_policy',
  'admin_approve_held',
  'admin_reject_held',
  'choose_mode',
  'join_org',
]);

export function fakeBackend(handlers: Record<string, Handler> = {}): Backend {
  const table: Record<string, Handler> = {
    dashboard: () => dashboard(),
    history: () => page([charge('e2', '4.5'), charge('e1', '34.825')]),
    monitor_status: () => monitor(),
    apps: () => APPS,
    models: () => MODELS,
    rate: () => RATE,
    accounts: () => ACCOUNTS,
    policy: () => POLICY,
    held_events: () => [held('h1'), held('h2', { reason: 'unpriced', amount: null, detail: 'no price for gpt-5' })],
    rejected_events: () => REJECTED,
    open_window: () => null,
    set_language: () => null,
    dashboard_painted: () => null,
    admin_status: () => ({ password_set: true, session_expires_at: null }),
    way_in: () => ({ mode: 'island', suggested_server: null, offer_island: true, offer_demo: true }),
    ...handlers,
  };
  const calls: Backend['calls'] = [];
  mockIPC(
    (cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args: a });
      const handler = table[cmd];
      if (!handler) reject('unknown_command', `no fake for ${cmd}`);
      // Tauri names a command's arguments in camelCase (`share_url` in Rust is `shareUrl` here); a
      // snake_case one never reaches Rust, which then rejects the call for a missing argument.
      const snake = Object.keys(a).find((key) => key.includes('_'));
      if (snake) reject('invalid_args', `${cmd}: argument ${snake} must be camelCase`);
      const result = handler(a);
      if (ADMIN_CHANGES.has(cmd)) void emit('ledger-changed', null);
      return result;
    },
    { shouldMockEvents: true },
  );
  return {
    calls,
    argsOf: (cmd) => calls.filter((c) => c.cmd === cmd).map((c) => c.args),
    on: (cmd, handler) => {
      table[cmd] = handler;
    },
  };
}
