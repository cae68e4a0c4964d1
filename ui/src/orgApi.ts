// The org server's admin API, as the admin window of an enrolled desktop calls it: through the shell's
// `org_admin` command (one typed request per operation), which holds the session and signs each call. The
// wire types are generated from crates/sync-proto and crates/api (`ui/src/bindings/org.ts`): money is
// integer micro-credits (`*_micros`), prices and rates are decimal strings, times are RFC 3339 UTC.
import type * as Wire from './bindings/org';
import { commands } from './bindings/commands';
import type { BalanceKind } from './api';

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

/** What changes in an app: null leaves a field as it is. */
export type OrgAppChange = Wire.UpdateApp;

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
export type ReportQuery = Wire.ReportQuery;

export type ReportRow = Wire.ReportRow;

export type Report = Wire.Report;

/** A connected Dify workspace, as the server shows it: never its password or key. */
export type DifyConnection = Wire.DifyConnectionInfo;

/** `POST /v1/admin/dify`: the credentials are sent once and never shown again. */
export type NewDifyConnection = Wire.NewDifyConnection;

export type DifyCredentials = Wire.DifyCredentials;

export type DifyTest = Wire.DifyTest;

export type LinkedApp = Wire.LinkedApp;

export type ReconcileRequest = Wire.ReconcileRequest;

export type ReconcileReport = Wire.ReconcileReport;

export type ConnectionRun = Wire.ConnectionRun;

export type ReconciliationQuery = Wire.ReconciliationQuery;

export type Reconciliation = Wire.Reconciliation;

export type DailyControl = Wire.DailyControl;

export type Finding = Wire.FindingInfo;

export type FindingKind = Wire.FindingKind;

export type DifyRecord = Wire.DifyRecordInfo;

/** One operation of the org's admin API, as the shell's `org_admin` command takes it. */
export type OrgRequest = Wire.OrgRequest;

/** The answer to the request of operation `Op`. */
export type OrgAnswerOf<Op extends OrgRequest['op']> = Extract<Wire.OrgAnswer, { op: Op }>['answer'];

/** Runs one operation on the server for the signed-in admin; the shell holds the session and signs it. */
async function org<R extends OrgRequest>(request: R): Promise<OrgAnswerOf<R['op']>> {
  const answer = await commands.orgAdmin(request);
  if (answer.op !== request.op) throw new Error(`org_admin answered ${answer.op} to ${request.op}`);
  return answer.answer as OrgAnswerOf<R['op']>;
}

/** The server's name for each kind of balance change the form offers (the desktop's `adjust` is its `adjustment`). */
const ENTRY_KINDS: Record<BalanceKind, Wire.EntryKind> = { grant: 'grant', topup: 'topup', adjust: 'adjustment' };

/** The query with only the filters that are set: a cleared field filters nothing. */
const setFilters = (query: ReportQuery): ReportQuery => Object.fromEntries(Object.entries(query).filter(([, value]) => value)) as ReportQuery;

export const orgApi = {
  status: commands.orgAdminStatus,
  login: commands.orgAdminLogin,
  logout: commands.orgAdminLogout,

  users: () => org({ op: 'users' }),
  addUser: (user: NewUser) => org({ op: 'add_user', user }),
  enrollmentCode: (user: string) => org({ op: 'enrollment_code', user }),
  /** A grant, top-up or adjustment; `amount` is credits as a decimal string. */
  addEntry: (user: string, kind: BalanceKind, amount: string, reason: string) =>
    org({ op: 'add_entry', user, entry: { kind: ENTRY_KINDS[kind], amount, reason } }),
  /** Sets both of a user's budgets at once. */
  setBudget: (user: string, budget: UserBudget) => org({ op: 'set_budget', user, budget }),
  devices: () => org({ op: 'devices' }),
  revokeDevice: (id: string) => org({ op: 'revoke_device', id }),

  models: () => org({ op: 'models' }),
  modelHistory: (name: string) => org({ op: 'model_history', name }),
  /** Creates or reprices a model; prices are decimal strings in USD per 1K tokens. */
  setModel: (name: string, input: string, output: string, reason: string) =>
    org({
      op: 'set_model',
      name,
      change: { input_usd_per_1k: input, output_usd_per_1k: output, reason, aliases: null, active: null },
    }),
  rate: () => org({ op: 'rate' }),
  setRate: (rate: string, reason: string) => org({ op: 'set_rate', change: { credits_per_usd: rate, reason } }),
  apps: () => org({ op: 'apps' }),
  addApp: (app: NewOrgApp) => org({ op: 'add_app', app }),
  updateApp: (id: string, change: Partial<OrgAppChange>) =>
    org({ op: 'update_app', id, change: { name: null, share_url: null, pricing: null, model: null, enabled: null, ...change } }),
  policy: () => org({ op: 'policy' }),
  /** One guard by its key; credits as a decimal string, counts and the switch as text. */
  setPolicy: (key: string, value: string) => org({ op: 'set_policy', change: { key, value } }),

  /** Pending events, newest first; decided ones too with `all`. */
  held: (all: boolean) => org({ op: 'held', all }),
  /** Charges the server's amount, never the device's. */
  approveHeld: (id: string, note: string | null) => org({ op: 'decide_held', id, verdict: 'approve', note }),
  rejectHeld: (id: string, note: string | null) => org({ op: 'decide_held', id, verdict: 'reject', note }),

  /** Makes `count` single-use codes worth `amount` credits each; the shell saves their CSV to Downloads. */
  createCodes: (codes: NewCodes) => commands.orgAdminCreateCodes(codes.count, codes.amount, codes.reason, codes.validDays),
  redemptionCodes: () => org({ op: 'redemption_codes' }),

  report: (query: ReportQuery) => org({ op: 'report', query: setFilters(query) }),
  /** Saves the report for `query` as the server's CSV in the Downloads folder. */
  exportReport: (query: ReportQuery) => commands.orgAdminExportReport(setFilters(query)),

  /** The connected Dify workspaces, with their linked apps and the state of their last run. */
  difyConnections: () => org({ op: 'dify_connections' }),
  addDifyConnection: (connection: NewDifyConnection) => org({ op: 'add_dify_connection', connection }),
  /** Signs in to the workspace and matches its apps to the metered ones by share code. */
  testDifyConnection: (id: string) => org({ op: 'test_dify_connection', id }),
  /** Reconciles now, whatever the scheduler's backoff. */
  reconcile: (request: ReconcileRequest) => org({ op: 'reconcile', request }),
  /** The daily control and the findings of those days. */
  reconciliation: (query: ReconciliationQuery) => org({ op: 'reconciliation', query }),
};
