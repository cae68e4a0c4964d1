import type { TFunction } from 'i18next';
import { isCommandError } from './api';

export const SESSION_REQUIRED = 'admin_session_required';

/** A rejected command as one line for the user: known codes translated, others with their message. */
export function describeError(t: TFunction, error: unknown): string {
  if (isCommandError(error)) {
    if (error.code === SESSION_REQUIRED || error.code === 'wrong_password') {
      return t(`errors.${error.code}`);
    }
    return t('errors.other', { message: error.message, code: error.code });
  }
  return t('errors.unknown', { message: String(error) });
}

export function hasCode(error: unknown, code: string): boolean {
  return isCommandError(error) && error.code === code;
}
