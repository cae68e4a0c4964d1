// Typed wrappers over the Rust shell's IPC commands and events. The shapes follow the ledger crate's
// serde types (crates/ledger): amounts are credits as JSON numbers with at most 6 decimals, each with
// an exact integer `*_micros` twin; times are RFC 3339 UTC.
import { invoke } from '@tauri-apps/api/core';
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
}

export interface HistoryPage {
  entries: Entry[];
  next_cursor: string | null;
}

export interface MonitorStatus {
  chat_open: boolean;
  chat_url: string | null;
  last_event_at: string | null;
  last_outcome: string | null;
  integration_enabled: boolean;
  demo: boolean;
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
  old_rate: number | null;
  new_rate: number;
  changed_by: string;
  reason: string;
  changed_at: string;
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
  prompt_tokens: number;
  completion_tokens: number;
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
  adminStatus: () => invoke<AdminStatus>('admin_status'),
  adminSetPassword: (password: string) => invoke<AdminStatus>('admin_set_password', { password }),
  adminLogin: (password: string) => invoke<AdminStatus>('admin_login', { password }),
  adminLogout: () => invoke<void>('admin_logout'),
  adminSetRate: (rate: string, reason: string) => invoke<RateChange>('admin_set_rate', { rate, reason }),
  adminGrant: (user: string, amount: string, reason: string) =>
    invoke<Entry>('admin_grant', { user, amount, reason }),
  adminSimulate: (event: SimulatedEvent) => invoke<ChargeResult>('admin_simulate', { event }),
};

export interface EventPayloads {
  charge: ChargeEvent;
  monitor: MonitorStatus;
}

export function onEvent<K extends keyof EventPayloads>(
  name: K,
  handler: (payload: EventPayloads[K]) => void,
): Promise<UnlistenFn> {
  return listen<EventPayloads[K]>(name, (e) => handler(e.payload));
}
