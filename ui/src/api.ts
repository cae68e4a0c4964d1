// The Rust shell's IPC commands and events for the windows. The types and the command wrappers are generated
// from the Rust code (`ui/src/bindings/`, by src-tauri/src/bindings): amounts are credits as decimal strings with
// at most 6 decimals, each with an exact integer `*_micros` twin; prices and rates are decimal strings too (see
// format.ts: never read as JS numbers); times are RFC 3339 UTC.
import { Channel } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  BudgetStanding,
  ChargeResult,
  DifyApp,
  ErrorBody,
  Export,
  HistoryArgs,
  ImportProgress,
  Language,
  ModelConfig,
  MonitorStatus,
  PolicyForm,
  PolicyView,
  PreviewRow,
  RedeemAnswer,
  UsageSnapshot,
} from './bindings/desktop';
import { commands } from './bindings/commands';

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
  ImportSkip,
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
  SideCall,
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

/** The guards typed as credits, which `admin_set_policy` takes as decimal strings (a choice's words are no credits). */
export type CreditField = { [K in keyof PolicyForm]: string extends PolicyForm[K] ? K : never }[keyof PolicyForm];

/** A redemption code's credit, as `redeem_code` answers. */
export type Redemption = RedeemAnswer;

export function isCommandError(e: unknown): e is CommandError {
  return typeof e === 'object' && e !== null && typeof (e as CommandError).code === 'string';
}

/**
 * The shell's commands (generated from their Rust signatures in `bindings/commands.ts`), with the import's
 * progress channel taken as a callback.
 */
export const api = {
  ...commands,
  /** `onProgress` hears how far the import has got, about once per percent. */
  adminImportModels: (text: string, reason: string, onProgress: (progress: ImportProgress) => void) => {
    const channel = new Channel<ImportProgress>();
    channel.onmessage = onProgress;
    return commands.adminImportModels(text, reason, channel);
  },
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
