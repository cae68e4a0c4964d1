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
] as const;
type Lead = (typeof LEADS)[number];
const hasLead = (code: string): code is Lead => (LEADS as readonly string[]).includes(code);

/**
 * A rejected command as one line for the user: codes that say it all translated whole, known codes with a
 * translated lead before their message, others with their message and code.
 */
export function describeError(t: TFunction, error: unknown): string {
  if (isCommandError(error)) {
    if (error.code === SESSION_REQUIRED || error.code === 'wrong_password') {
      return t(`errors.${error.code}`);
    }
    if (hasLead(error.code)) return t('errors.known', { lead: t(`errors.leads.${error.code}`), message: error.message });
    return t('errors.other', { message: error.message, code: error.code });
  }
  return t('errors.unknown', { message: String(error) });
}

export function hasCode(error: unknown, code: string): boolean {
  return isCommandError(error) && error.code === code;
}
