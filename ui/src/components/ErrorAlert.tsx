import { Alert } from 'antd';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { describeError } from '../errors';

export function ErrorAlert({ error, testId, action }: { error: unknown; testId?: string; action?: ReactNode }) {
  const { t } = useTranslation();
  if (!error) return null;
  return (
    <Alert type="error" showIcon role="alert" data-testid={testId} message={describeError(t, error)} action={action} />
  );
}
