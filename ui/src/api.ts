// Typed wrappers over the Rust shell's IPC commands and events. The shapes follow the ledger crate's
// serde types (crates/ledger): amounts are credits as JSON numbers with at most 6 decimals, each with
// an exact integer `*_micros` twin; times are RFC 3339 UTC.
import { Channel, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

export type WindowName = 'chat' | 'dashboard' | 'admin' | 'diagnostics';

/** Spending over some period (a day, a month, one model or app). */
export interface Spend {
  credits: number;
  credits_micros: number;
  prompt_tokens: number;
  completion_tokens: number;
  messages: number;
}

export interface Breakdown {
  /** A model name, or an app id as text; "" is Dify's reported price. */
  key: string;
  spend: Spend;
}

export interface Dashboard {
  account: string;
  balance: number;
  balance_micros: number;
  credits_per_usd: number;
  balance_usd: number;
  low_balance: boolean;
  today: Spend;
  month: Spend;
  series: { date: string; spend: Spend }[];
  month_by_model: Breakdown[];
  month_by_app: Breakdown[];
  time_zone: string;
}

export type EntryKind = 'grant' | 'topup' | 'charge' | 'adjustment' | 'reversal';

export interface Usage {
  pricing: 'model' | 'dify_price';
  app_id: number;
  app_name: string;
  model: string | null;
  conversation_id: string | null;
  message_id: string;
  prompt_tokens: number;
  completion_tokens: number;
  price: { input_per_1k: number; output_per_1k: number } | null;
  credits_per_usd: number;
  usd_cost: number;
  dify_total_price: number | null;
  dify_currency: string | null;
  estimated: boolean;
}

export interface Entry {
  id: string;
  amount: number;
  amount_micros: number;
  kind: EntryKind;
  created_at: string;
  actor: string;
  reason: string | null;
  usage: Usage | null;
}

export interface HistoryQuery {
  limit: number;
  /** The `next_cursor` of the previous page, passed back unchanged. */
  cursor?: string;
  app_id?: number;
  model?: string;
  /** RFC 3339 instants: `from` inclusive, `to` exclusive. */
  from?: string;
  to?: string;
  /** An account name; the active user when absent. */
  account?: string;
}

/** The history filters without paging: what the CSV export takes. */
export type HistoryFilter = Omit<HistoryQuery, 'limit' | 'cursor'>;

export interface ExportResult {
  path: string;
  rows: number;
}

export interface HistoryPage {
  entries: Entry[];
  next_cursor: string | null;
}

/** The pre-send gate's last answer to the chat page. */
export interface SendCheck {
  endpoint: string;
  at: string;
  allowed: boolean;
  /** Why it was refused, e.g. `insufficient_credits`; null when allowed. */
  code: string | null;
}

export interface MonitorStatus {
  chat_open: boolean;
  chat_url: string | null;
  /** When the relay in the page now shown in the chat window reported in; null until it has. */
  relay_seen_at: string | null;
  /** Whether that page's replies are charged: its app is configured and enabled, and metering is on. */
  relay_metered: boolean;
  last_send: SendCheck | null;
  last_event_at: string | null;
  last_outcome: string | null;
  integration_enabled: boolean;
  demo: boolean;
  /** Where this device stands with its org server; null on an island. */
  sync: SyncStatus | null;
}

/** The ledger's `SyncStatus` (crates/ledger/src/sync.rs). */
export interface SyncStatus {
  enrolled: boolean;
  server: string | null;
  org: string | null;
  user: string | null;
  device_id: string | null;
  config_version: number;
  /** Entries and held events recorded here that the server has not acknowledged. */
  pending: number;
  acked_seq: number;
  last_sync: string | null;
  /** Set when the last try failed: the device is offline. */
  last_error: string | null;
  lease_left_micros: number;
  lease_left: number;
  lease_expires_at: string | null;
  revoked: boolean;
  /** Why the gate refuses sends now for lack of a lease (spent, expired or revoked); null when it does not. */
  lease_refusal: string | null;
}

/** How this data directory is used, chosen on the first run. */
export type Mode = 'unchosen' | 'island' | 'demo' | 'org';

export interface WayIn {
  mode: Mode;
  /** The join form's server, from `--server` or `TOKENDESK_SERVER_URL`. */
  suggested_server: string | null;
}

export interface App {
  id: number;
  name: string;
  share_url: string;
  origin: string;
  pricing: 'model' | 'dify_price';
  model: string | null;
  enabled: boolean;
  demo: boolean;
}

export interface AdminStatus {
  password_set: boolean;
  session_expires_at: string | null;
}

export interface RateChange {
  id: number;
  old_rate: number | null;
  new_rate: number;
  changed_by: string;
  reason: string;
  changed_at: string;
}

export interface Price {
  input_per_1k: number;
  output_per_1k: number;
}

export interface Model {
  id: number;
  name: string;
  input_usd_per_1k: number;
  output_usd_per_1k: number;
  active: boolean;
  /** Seeded list prices stay flagged until an admin sets or confirms them. */
  needs_review: boolean;
  aliases: string[];
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface PriceChange {
  id: number;
  model: string;
  old: Price | null;
  new: Price;
  changed_by: string;
  reason: string;
  changed_at: string;
}

export interface Rate {
  credits_per_usd: number;
  history: RateChange[];
}

export interface Account {
  id: number;
  name: string;
  display_name: string;
  role: 'staff' | 'admin';
  balance: number;
  balance_micros: number;
  password_set: boolean;
  created_at: string;
}

export type BalanceKind = 'grant' | 'topup' | 'adjust';

/** The guards. Credit fields are numbers here; `admin_set_policy` takes them as decimal strings. */
export interface Policy {
  integration_enabled: boolean;
  min_balance: number;
  /** 0 turns the cap off. */
  event_cap: number;
  /** 0 turns the flood guard off. */
  flood_max_per_minute: number;
  low_balance: number;
  max_tokens_per_event: number;
  /** 0 means no budget. */
  daily_budget: number;
  monthly_budget: number;
}

export type CreditField = 'min_balance' | 'event_cap' | 'low_balance' | 'daily_budget' | 'monthly_budget';
export type PolicyForm = Omit<Policy, CreditField> & Record<CreditField, string>;

export interface ImportRow {
  line: number;
  name: string;
  input_usd_per_1k: number;
  output_usd_per_1k: number;
  aliases: string[];
  change: 'create' | 'update' | 'unchanged';
}

export interface ImportError {
  line: number;
  message: string;
}

export interface ImportPreview {
  rows: ImportRow[];
  errors: ImportError[];
}

/** How far an import has got: `done` of `total` rows written (or failed). */
export interface ImportProgress {
  done: number;
  total: number;
}

export interface ImportReport {
  created: number;
  updated: number;
  unchanged: number;
  errors: ImportError[];
}

export interface ConnectionTest {
  ok: boolean;
  /** The HTTP status; null when no answer came. */
  status: number | null;
  message: string;
}

export type HeldReason = 'cap' | 'flood' | 'conflict' | 'unpriced';

export interface HeldEvent {
  id: string;
  received_at: string;
  reason: HeldReason;
  detail: string;
  app_id: number;
  app_name: string;
  /** The model a diagnostics simulation was priced as instead of the app's binding; approval uses it. */
  priced_as: string | null;
  message_id: string;
  estimated: boolean;
  /** Null when the event could not be priced. */
  amount: number | null;
  payload: string;
  status: 'pending' | 'approved' | 'rejected';
  decided_by: string | null;
  decided_at: string | null;
  decision_note: string | null;
  entry_id: string | null;
}

export interface RejectedEvent {
  id: string;
  received_at: string;
  code: string;
  message: string;
  source: string;
  payload: string;
  payload_bytes: number;
}

export type Outcome = 'charged' | 'duplicate' | 'conflict' | 'held' | 'rejected';

/** What happened to one event; `amount` is the credits charged, held, or charged originally. */
export interface ChargeResult {
  outcome: Outcome;
  amount: number;
  amount_micros: number;
  code: string | null;
  reason: string | null;
  message_id: string | null;
  entry_id: string | null;
  held_id: string | null;
  audit_id: string | null;
  estimated: boolean;
  balance: number;
  balance_micros: number;
}

// The `charge` event carries the result plus the app's display name.
export interface ChargeEvent extends ChargeResult {
  app_name?: string | null;
}

export interface SimulatedEvent {
  app_id: number;
  /** Price it as this model instead of the app's binding; null: as the app is bound. */
  model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  /** Dify's reported `total_price` in USD, a decimal string; null: none reported. */
  dify_total_price: string | null;
  message_id: string;
}

/** How every command rejects. */
export interface CommandError {
  code: string;
  message: string;
}

export function isCommandError(e: unknown): e is CommandError {
  return typeof e === 'object' && e !== null && typeof (e as CommandError).code === 'string';
}

export const api = {
  dashboard: () => invoke<Dashboard>('dashboard'),
  history: (query: HistoryQuery) => invoke<HistoryPage>('history', { query }),
  monitorStatus: () => invoke<MonitorStatus>('monitor_status'),
  apps: () => invoke<App[]>('apps'),
  openWindow: (name: WindowName) => invoke<void>('open_window', { name }),
  setLanguage: (language: 'zh' | 'en') => invoke<void>('set_language', { language }),
  adminStatus: () => invoke<AdminStatus>('admin_status'),
  wayIn: () => invoke<WayIn>('way_in'),
  chooseMode: (mode: 'island' | 'demo') => invoke<void>('choose_mode', { mode }),
  /** `code` may be a join link (`tokendesk://join?server=…&code=…`), which carries the server too. */
  joinOrg: (server: string, code: string) => invoke<SyncStatus>('join_org', { server, code }),
  syncNow: () => invoke<void>('sync_now'),
  adminSetPassword: (password: string) => invoke<AdminStatus>('admin_set_password', { password }),
  adminLogin: (password: string) => invoke<AdminStatus>('admin_login', { password }),
  adminLogout: () => invoke<void>('admin_logout'),
  adminSetRate: (rate: string, reason: string) => invoke<RateChange>('admin_set_rate', { rate, reason }),
  adminSimulate: (event: SimulatedEvent) => invoke<ChargeResult>('admin_simulate', { event }),

  exportHistoryCsv: (query: HistoryFilter) => invoke<ExportResult>('export_history_csv', { query }),
  models: () => invoke<Model[]>('models'),
  modelHistory: (name: string) => invoke<PriceChange[]>('model_history', { name }),
  rate: () => invoke<Rate>('rate'),
  accounts: () => invoke<Account[]>('accounts'),
  policy: () => invoke<Policy>('policy'),
  heldEvents: (all: boolean) => invoke<HeldEvent[]>('held_events', { all }),
  rejectedEvents: (limit: number) => invoke<RejectedEvent[]>('rejected_events', { limit }),

  /** Prices are decimal strings in USD per 1K tokens. */
  adminSetModel: (name: string, input: string, output: string, reason: string) =>
    invoke<Model>('admin_set_model', { name, input, output, reason }),
  adminSetModelActive: (name: string, active: boolean) => invoke<Model>('admin_set_model_active', { name, active }),
  adminSetModelAliases: (name: string, aliases: string[]) => invoke<Model>('admin_set_model_aliases', { name, aliases }),
  adminPreviewImport: (text: string) => invoke<ImportPreview>('admin_preview_import', { text }),
  /** `onProgress` hears how far the import has got, about once per percent. */
  adminImportModels: (text: string, reason: string, onProgress: (progress: ImportProgress) => void) => {
    const channel = new Channel<ImportProgress>();
    channel.onmessage = onProgress;
    return invoke<ImportReport>('admin_import_models', { text, reason, onProgress: channel });
  },
  adminAdjustBalance: (user: string, kind: BalanceKind, amount: string, reason: string) =>
    invoke<Entry>('admin_adjust_balance', { user, kind, amount, reason }),
  adminReverse: (entryId: string, reason: string) => invoke<Entry>('admin_reverse', { entryId, reason }),
  /** `model` null: the app is priced by Dify's reported price. */
  adminAddApp: (name: string, shareUrl: string, model: string | null) =>
    invoke<App>('admin_add_app', { name, shareUrl, model }),
  /** Renames, moves or rebinds an app; `model` null: Dify's reported price. */
  adminUpdateApp: (id: number, name: string, shareUrl: string, model: string | null) =>
    invoke<App>('admin_update_app', { id, name, shareUrl, model }),
  adminSetAppEnabled: (id: number, enabled: boolean) => invoke<App>('admin_set_app_enabled', { id, enabled }),
  adminTestApp: (id: number) => invoke<ConnectionTest>('admin_test_app', { id }),
  adminSetPolicy: (policy: PolicyForm) => invoke<Policy>('admin_set_policy', { policy }),
  adminApproveHeld: (id: string, note: string | null) => invoke<Entry>('admin_approve_held', { id, note }),
  adminRejectHeld: (id: string, note: string | null) => invoke<HeldEvent>('admin_reject_held', { id, note }),
  adminChangePassword: (current: string, next: string) =>
    invoke<AdminStatus>('admin_change_password', { current, new: next }),
};

export interface EventPayloads {
  charge: ChargeEvent;
  monitor: MonitorStatus;
  /** The language picked in some window. */
  language: 'zh' | 'en';
  /** After any admin change: every view of ledger data refetches. */
  'ledger-changed': null;
}

export function onEvent<K extends keyof EventPayloads>(
  name: K,
  handler: (payload: EventPayloads[K]) => void,
): Promise<UnlistenFn> {
  return listen<EventPayloads[K]>(name, (e) => handler(e.payload));
}
