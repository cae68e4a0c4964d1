// The org server's admin API, as the admin window of an enrolled desktop calls it: through the shell
// (`org_admin_*` commands), which holds the session and signs each call. The shapes follow the serde types
// of crates/sync-proto (`admin`): money is integer micro-credits (`*_micros`), prices and rates are decimal
// strings, times are RFC 3339 UTC.
import { invoke } from '@tauri-apps/api/core';
import type { BalanceKind, ExportResult } from './api';

export type OrgRole = 'staff' | 'admin';

export interface OrgAdminStatus {
  /** The server this device is enrolled with. */
  server: string;
  /** The signed-in admin; null: the sign-in form. */
  admin: string | null;
  expires_at: string | null;
}

export interface OrgUser {
  id: string;
  name: string;
  display_name: string;
  role: OrgRole;
}

export interface UserSummary {
  user: OrgUser;
  balance_micros: number;
  devices: number;
  created_at: string;
}

export interface NewUser {
  name: string;
  display_name: string | null;
  role: OrgRole;
  /** Admins sign in with one; staff never do. */
  password: string | null;
}

export interface NewEnrollmentCode {
  code: string;
  user: string;
  expires_at: string;
  join_link: string;
}

export interface Device {
  id: string;
  user: string;
  name: string;
  revoked: boolean;
  last_seen: string | null;
  /** Device clock minus server clock at the last contact. */
  clock_skew_ms: number | null;
  last_seq: number;
  created_at: string;
}

export interface OrgEntry {
  id: string;
  user: string;
  kind: BalanceKind | 'charge' | 'reversal';
  amount_micros: number;
  counted: boolean;
  occurred_at: string;
  actor: string;
  reason: string | null;
}

/** USD per 1K tokens, as decimal strings. */
export interface OrgPrice {
  input_per_1k: string;
  output_per_1k: string;
}

export interface OrgModel {
  name: string;
  price: OrgPrice;
  aliases: string[];
  active: boolean;
  updated_at: string;
}

export interface OrgPriceChange {
  model: string;
  old: OrgPrice | null;
  new: OrgPrice;
  changed_by: string;
  reason: string;
  changed_at: string;
  config_version: number;
}

export interface OrgRateChange {
  old_rate: string | null;
  new_rate: string;
  changed_by: string;
  reason: string;
  changed_at: string;
  config_version: number;
}

export interface OrgRate {
  credits_per_usd: string;
  history: OrgRateChange[];
}

/** The guards every device enforces (money in micro-credits), and the offline allowance per device. */
export interface OrgPolicy {
  integration_enabled: boolean;
  min_balance_micros: number;
  event_cap_micros: number;
  flood_max_per_minute: number;
  low_balance_micros: number;
  max_tokens_per_event: number;
  daily_budget_micros: number;
  monthly_budget_micros: number;
  offline_allowance_micros: number;
  lease_seconds: number;
}

export interface OrgApp {
  id: string;
  name: string;
}

export type ReportBy = 'user' | 'app' | 'model' | 'day';

/** What the report screen asks for; also the query of its CSV, so the file is exactly what is shown. */
export interface ReportQuery {
  by: ReportBy;
  /** UTC days, `YYYY-MM-DD`, inclusive. */
  from?: string;
  to?: string;
  user?: string;
  app?: string;
  model?: string;
}

export interface ReportRow {
  key: string;
  credits_micros: number;
  prompt_tokens: number;
  completion_tokens: number;
  messages: number;
}

export interface Report {
  by: ReportBy;
  from: string | null;
  to: string | null;
  rows: ReportRow[];
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const call = <T>(method: Method, path: string, body?: unknown) =>
  invoke<T>('org_admin_call', { method, path, body: body ?? null });

const segment = encodeURIComponent;

/** The report's query string: the filters that are set, in a fixed order. */
export function reportQuery(query: ReportQuery): string {
  const params = new URLSearchParams();
  for (const key of ['by', 'from', 'to', 'user', 'app', 'model'] as const) {
    const value = query[key];
    if (value) params.set(key, value);
  }
  return params.toString();
}

export const orgApi = {
  status: () => invoke<OrgAdminStatus>('org_admin_status'),
  login: (name: string, password: string) => invoke<OrgAdminStatus>('org_admin_login', { name, password }),
  logout: () => invoke<void>('org_admin_logout'),

  users: () => call<UserSummary[]>('GET', '/v1/admin/users'),
  addUser: (user: NewUser) => call<OrgUser>('POST', '/v1/admin/users', user),
  enrollmentCode: (user: string) => invoke<NewEnrollmentCode>('org_admin_enrollment_code', { user }),
  /** A grant, top-up or adjustment; `amount` is credits as a decimal string. */
  addEntry: (user: string, kind: BalanceKind, amount: string, reason: string) =>
    call<OrgEntry>('POST', `/v1/admin/users/${segment(user)}/entries`, { kind, amount, reason }),
  devices: () => call<Device[]>('GET', '/v1/admin/devices'),
  revokeDevice: (id: string) => call<Device>('POST', `/v1/admin/devices/${segment(id)}/revoke`, {}),

  models: () => call<OrgModel[]>('GET', '/v1/admin/models'),
  modelHistory: (name: string) => call<OrgPriceChange[]>('GET', `/v1/admin/models/${segment(name)}/history`),
  /** Creates or reprices a model; prices are decimal strings in USD per 1K tokens. */
  setModel: (name: string, input: string, output: string, reason: string) =>
    call<OrgModel>('PUT', `/v1/admin/models/${segment(name)}`, {
      input_usd_per_1k: input,
      output_usd_per_1k: output,
      reason,
      aliases: null,
      active: null,
    }),
  rate: () => call<OrgRate>('GET', '/v1/admin/rate'),
  setRate: (rate: string, reason: string) => call<OrgRate>('PUT', '/v1/admin/rate', { credits_per_usd: rate, reason }),
  apps: () => call<OrgApp[]>('GET', '/v1/admin/apps'),
  policy: () => call<OrgPolicy>('GET', '/v1/admin/policy'),
  /** One guard by its key; credits as a decimal string, counts and the switch as text. */
  setPolicy: (key: string, value: string) => call<OrgPolicy>('PUT', '/v1/admin/policy', { key, value }),

  report: (query: ReportQuery) => call<Report>('GET', `/v1/admin/report?${reportQuery(query)}`),
  /** Saves the report for `query` as the server's CSV in the Downloads folder. */
  exportReport: (query: ReportQuery) => invoke<ExportResult>('org_admin_export_report', { query: reportQuery(query) }),
};
