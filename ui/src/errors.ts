import type { TFunction } from 'i18next';
import { isCommandError } from './api';

export const SESSION_REQUIRED = 'admin_session_required';

// Codes whose translated lead goes before Rust's (English) message, which names the details.
const LEADS = [
  'invalid',
  'not_found',
  'already_exists',
  'password_not_set',
  'password_already_set',
  'already_decided',
  'amount_changed',
  'already_reversed',
  'database',
  'migration',
  'csv',
  'io',
  'preference',
  'window',
  'unknown_window',
  'unreachable',
  'code_invalid',
  'usage',
  'protocol',
  'managed_by_server',
  'unauthorized',
  'bad_amount',
  'bad_name',
  'bad_share_url',
  'model_required',
  'model_not_allowed',
  'exists',
  'already_charged',
  'unpriceable',
  'too_many_logins',
] as const;
type Lead = (typeof LEADS)[number];
const hasLead = (code: string): code is Lead => (LEADS as readonly string[]).includes(code);

// Codes whose translation says it all, with no need for Rust's message.
const WHOLE = [SESSION_REQUIRED, 'wrong_password', 'redemption_invalid', 'redemption_used'] as const;
type Whole = (typeof WHOLE)[number];
const isWhole = (code: string): code is Whole => (WHOLE as readonly string[]).includes(code);

/**
 * A rejected command as one line for the user: codes that say it all translated whole, known codes with a
 * translated lead before their message, others with their message and code.
 */
export function describeError(t: TFunction, error: unknown): string {
  if (isCommandError(error)) {
    if (isWhole(error.code)) return t(`errors.${error.code}`);
    if (hasLead(error.code)) return t('errors.known', { lead: t(`errors.leads.${error.code}`), message: error.message });
    return t('errors.other', { message: error.message, code: error.code });
  }
  return t('errors.unknown', { message: String(error) });
}

export function hasCode(error: unknown, code: string): boolean {
  return isCommandError(error) && error.code === code;
}
