// Typed wrappers over the Rust shell's IPC commands and events. The types are generated from the Rust
// types (`ui/src/bindings/`, by src-tauri/src/bindings.rs): amounts are credits as JSON numbers with at
// most 6 decimals, each with an exact integer `*_micros` twin; times are RFC 3339 UTC.
import { Channel, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  Account,
  AdminStatus,
  BalanceKind,
  BudgetStanding,
  ChargeResult,
  ConnectionTest,
  Dashboard,
  DifyApp,
  Entry,
  ErrorBody,
  Export,
  HeldEvent,
  HistoryArgs,
  HistoryPage,
  ImportPreview,
  ImportProgress,
  ImportReport,
  Language,
  ModelConfig,
  MonitorStatus,
  PolicyForm,
  PolicyView,
  PreviewRow,
  PriceChange,
  Rate,
  RateChange,
  RedeemAnswer,
  RejectedEvent,
  SimulatedEvent,
  SyncStatus,
  UsageSnapshot,
  WayIn,
} from './bindings/desktop';

export type {
  Account,
  AdminStatus,
  BalanceKind,
  Breakdown,
  ChargeResult,
  ConnectionTest,
  Dashboard,
  Entry,
  EntryKind,
  HeldEvent,
  HistoryPage,
  ImportError,
  ImportPreview,
  ImportProgress,
  ImportReport,
  Language,
  Mode,
  MonitorStatus,
  Outcome,
  PolicyForm,
  Price,
  PriceChange,
  Rate,
  RateChange,
  RejectedEvent,
  SendCheck,
  SimulatedEvent,
  Spend,
  SyncStatus,
  WayIn,
} from './bindings/desktop';

// The windows' names for some generated types.
export type App = DifyApp;
export type Model = ModelConfig;
export type Usage = UsageSnapshot;
export type Policy = PolicyView;
export type ImportRow = PreviewRow;
export type ExportResult = Export;
export type HistoryQuery = HistoryArgs;
export type SyncBudget = BudgetStanding;
/** How every command rejects. */
export type CommandError = ErrorBody;
/** The `charge` event: what happened to one event, with the app's name. */
export type ChargeEvent = ChargeResult;

export type WindowName = 'chat' | 'dashboard' | 'admin' | 'diagnostics';

/** The history filters without paging: what the CSV export takes. */
export type HistoryFilter = Omit<HistoryQuery, 'limit' | 'cursor'>;

/** The guards typed as credits, which `admin_set_policy` takes as decimal strings. */
export type CreditField = { [K in keyof PolicyForm]: PolicyForm[K] extends string ? K : never }[keyof PolicyForm];

/** A redemption code's credit, as `redeem_code` answers. */
export type Redemption = RedeemAnswer;

export function isCommandError(e: unknown): e is CommandError {
  return typeof e === 'object' && e !== null && typeof (e as CommandError).code === 'string';
}

export const api = {
  dashboard: () => invoke<Dashboard>('dashboard'),
  history: (query: HistoryQuery) => invoke<HistoryPage>('history', { query }),
  monitorStatus: () => invoke<MonitorStatus>('monitor_status'),
  apps: () => invoke<App[]>('apps'),
  openWindow: (name: WindowName) => invoke<void>('open_window', { name }),
  setLanguage: (language: Language) => invoke<void>('set_language', { language }),
  adminStatus: () => invoke<AdminStatus>('admin_status'),
  wayIn: () => invoke<WayIn>('way_in'),
  chooseMode: (mode: 'island' | 'demo') => invoke<void>('choose_mode', { mode }),
  /** `code` may be a join link (`tokendesk://join?server=…&code=…`), which carries the server too. */
  joinOrg: (server: string, code: string) => invoke<SyncStatus>('join_org', { server, code }),
  syncNow: () => invoke<void>('sync_now'),
  /** Redeems a code from the org for credits on this user's balance; enrolled devices only. */
  redeemCode: (code: string) => invoke<Redemption>('redeem_code', { code }),
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
  language: Language;
  /** After any admin change: every view of ledger data refetches. */
  'ledger-changed': null;
}

export function onEvent<K extends keyof EventPayloads>(
  name: K,
  handler: (payload: EventPayloads[K]) => void,
): Promise<UnlistenFn> {
  return listen<EventPayloads[K]>(name, (e) => handler(e.payload));
}
