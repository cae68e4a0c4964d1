// The org server's admin API, as the admin window of an enrolled desktop calls it: through the shell
// (`org_admin_*` commands), which holds the session and signs each call. The wire types are generated from
// crates/sync-proto (`ui/src/bindings/org.ts`): money is integer micro-credits (`*_micros`), prices and rates
// are decimal strings, times are RFC 3339 UTC.
import { invoke } from '@tauri-apps/api/core';
import type * as Wire from './bindings/org';
import type { BalanceKind, ExportResult } from './api';

export type OrgRole = Wire.Role;

/** The signed-in admin; null: the sign-in form. */
export type OrgAdminStatus = Wire.OrgAdminStatus;

export type OrgUser = Wire.UserInfo;

export type UserSummary = Wire.UserSummary;

/** A user's own budgets, in credits as decimal strings as typed; null: follow the org policy; "0": none. */
export type UserBudget = Wire.SetBudget;

export type NewUser = Wire.NewUser;

export type NewEnrollmentCode = Wire.NewEnrollmentCode;

export type Device = Wire.DeviceInfo;

export type OrgEntry = Wire.EntryInfo;

/** USD per 1K tokens, as decimal strings. */
export type OrgPrice = Wire.Price;

export type OrgModel = Wire.ModelInfo;

export type OrgPriceChange = Wire.PriceChange;

export type OrgRateChange = Wire.RateChange;

export type OrgRate = Wire.RateInfo;

/** The guards every device enforces (money in micro-credits), and the offline allowance per device. */
export type OrgPolicy = Wire.Policy;

export type OrgPricing = Wire.Pricing;

/** A Dify app of the org (`AppConfig`): priced by its bound model or by Dify's reported price. */
export type OrgApp = Wire.AppConfig;

/** `POST /v1/admin/apps`; `model` only with `model` pricing. */
export type NewOrgApp = Wire.NewApp;

/** `PATCH /v1/admin/apps/{id}`: null leaves a field as it is. */
export type OrgAppChange = { [K in keyof NewOrgApp]: NewOrgApp[K] | null } & { enabled: boolean | null };

export type OrgHeldReason = Wire.HoldReason;

/** A held or quarantined event on the server (`HeldInfo`). */
export type OrgHeld = Wire.HeldInfo;

/** What `org_admin_create_codes` takes: credits as a decimal string, days of validity (null: no expiry). */
export interface NewCodes {
  count: number;
  amount: string;
  reason: string;
  validDays: number | null;
}

/** A batch of redemption codes, shown once: the server keeps only their hashes; the shell saved their CSV. */
export type CodeBatch = Wire.NewRedemptionBatch;

export type RedemptionCode = Wire.RedemptionCodeInfo;

export type ReportBy = Wire.ReportBy;

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

export type ReportRow = Wire.ReportRow;

export type Report = Wire.Report;

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
  /** Sets both of a user's budgets at once. */
  setBudget: (user: string, budget: UserBudget) => call<UserSummary>('PUT', `/v1/admin/users/${segment(user)}/budget`, budget),
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
  addApp: (app: NewOrgApp) => call<OrgApp>('POST', '/v1/admin/apps', app),
  updateApp: (id: string, change: Partial<OrgAppChange>) =>
    call<OrgApp>('PATCH', `/v1/admin/apps/${segment(id)}`, { name: null, share_url: null, pricing: null, model: null, enabled: null, ...change }),
  policy: () => call<OrgPolicy>('GET', '/v1/admin/policy'),
  /** One guard by its key; credits as a decimal string, counts and the switch as text. */
  setPolicy: (key: string, value: string) => call<OrgPolicy>('PUT', '/v1/admin/policy', { key, value }),

  /** Pending events, newest first; decided ones too with `all`. */
  held: (all: boolean) => call<OrgHeld[]>('GET', `/v1/admin/held${all ? '?all=true' : ''}`),
  /** Charges the server's amount, never the device's. */
  approveHeld: (id: string, note: string | null) => call<OrgHeld>('POST', `/v1/admin/held/${segment(id)}/approve`, { note }),
  rejectHeld: (id: string, note: string | null) => call<OrgHeld>('POST', `/v1/admin/held/${segment(id)}/reject`, { note }),

  /** Makes `count` single-use codes worth `amount` credits each; the shell saves their CSV to Downloads. */
  createCodes: (codes: NewCodes) => invoke<CodeBatch>('org_admin_create_codes', { ...codes }),
  redemptionCodes: () => call<RedemptionCode[]>('GET', '/v1/admin/redemption-codes?limit=500'),

  report: (query: ReportQuery) => call<Report>('GET', `/v1/admin/report?${reportQuery(query)}`),
  /** Saves the report for `query` as the server's CSV in the Downloads folder. */
  exportReport: (query: ReportQuery) => invoke<ExportResult>('org_admin_export_report', { query: reportQuery(query) }),
};
