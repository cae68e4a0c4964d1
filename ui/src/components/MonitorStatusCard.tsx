import { Button, Card, Space, Tag, Tooltip, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, type MonitorStatus, type SyncBudget, type SyncStatus } from '../api';
import { formatCredits, formatMicros, formatTime } from '../format';
import type { Monitor } from '../hooks';
import { ErrorAlert } from './ErrorAlert';
import { OutcomeTag } from './OutcomeTag';

/** Live monitor status, shared by the dashboard and diagnostics windows (each asks for it once, with `useMonitorStatus`). */
export function MonitorStatusCard({ monitor: { status, error } }: { monitor: Monitor }) {
  const { t } = useTranslation();
  return (
    <Card size="small" title={t('monitor.title')} loading={!status && !error}>
      <ErrorAlert error={error} />
      {status && (
        <Space direction="vertical" size={4} data-testid="monitor-status">
          <Space size={4} wrap>
            <Tag color={status.integration_enabled ? 'green' : 'default'}>
              {t(status.integration_enabled ? 'monitor.integrationOn' : 'monitor.integrationOff')}
            </Tag>
            <ChatTag status={status} />
            {status.demo && <Tag color="purple">{t('monitor.demo')}</Tag>}
          </Space>
          <Typography.Text type="secondary">
            {t('monitor.lastEvent')}:{' '}
            {status.last_event_at ? formatTime(status.last_event_at) : t('monitor.noEvents')}{' '}
            {status.last_outcome && <OutcomeTag outcome={status.last_outcome} />}
          </Typography.Text>
          {status.last_send && (
            <Typography.Text type="secondary" data-testid="monitor-last-send">
              {t('monitor.lastSend')}: {formatTime(status.last_send.at)}{' '}
              {status.last_send.allowed ? (
                <Tag color="green">{t('monitor.sendAllowed')}</Tag>
              ) : (
                <Tooltip title={status.last_send.code}>
                  <Tag color="red">{t('monitor.sendRefused', { reason: refusalText(t, status.last_send.code) })}</Tag>
                </Tooltip>
              )}
            </Typography.Text>
          )}
          {status.sync && <OrgSync sync={status.sync} />}
          {status.chat_url && (
            <Typography.Text type="secondary" ellipsis style={{ maxWidth: 320 }}>
              {status.chat_url}
            </Typography.Text>
          )}
        </Space>
      )}
    </Card>
  );
}

/** An org's device: online or not, the last sync, what waits to be pushed, and the offline allowance left. */
function OrgSync({ sync }: { sync: SyncStatus }) {
  const { t } = useTranslation();
  const state = sync.revoked ? 'revoked' : sync.last_error || !sync.last_sync ? 'offline' : 'online';
  const color = { revoked: 'red', offline: 'orange', online: 'green' }[state];
  return (
    <Space direction="vertical" size={2} data-testid="org-sync" data-state={state}>
      <Space size={4} wrap>
        <Tooltip title={sync.revoked ? t('org.revokedHint') : sync.last_error && t('org.lastError', { error: sync.last_error })}>
          <Tag color={color} data-testid="org-state">
            {t(`org.${state}`)}
          </Tag>
        </Tooltip>
        <Typography.Text type="secondary">{sync.server}</Typography.Text>
        {!sync.revoked && (
          <Button size="small" type="link" onClick={() => void api.syncNow()} data-testid="sync-now">
            {t('org.syncNow')}
          </Button>
        )}
      </Space>
      <Typography.Text type="secondary" data-testid="org-last-sync">
        {t('org.lastSync')}: {sync.last_sync ? formatTime(sync.last_sync) : t('org.never')}
      </Typography.Text>
      <Typography.Text type="secondary">
        <span data-testid="org-pending" data-pending={sync.pending}>
          {t('org.pending')}: {sync.pending}
        </span>
        {' · '}
        <span data-testid="org-allowance">
          {t('org.allowance')}: {formatCredits(sync.lease_left)}
        </span>
      </Typography.Text>
      {sync.budget && <BudgetLines budget={sync.budget} />}
    </Space>
  );
}

/** The budgets that apply to this user (a limit of 0 is none), each with what was spent against it. */
function BudgetLines({ budget }: { budget: SyncBudget }) {
  const { t } = useTranslation();
  const line = (key: 'budgetToday' | 'budgetMonth', spent: number, limit: number, testId: string) =>
    limit > 0 && (
      <Typography.Text type={spent >= limit ? 'danger' : 'secondary'} data-testid={testId}>
        {t(`org.${key}`, { spent: formatMicros(spent), limit: formatMicros(limit) })}
      </Typography.Text>
    );
  return (
    <>
      {line('budgetToday', budget.spent_today_micros, budget.daily_limit_micros, 'org-budget-today')}
      {line('budgetMonth', budget.spent_month_micros, budget.monthly_limit_micros, 'org-budget-month')}
    </>
  );
}

/**
 * Closed; open but its page has no relay talking to TokenDesk (not Dify, or still loading); connected to a
 * page whose replies are not charged (its app is not configured or disabled); or connected and metered.
 */
function ChatTag({ status }: { status: MonitorStatus }) {
  const { t } = useTranslation();
  if (!status.chat_open) return <Tag data-testid="monitor-chat" data-state="closed">{t('monitor.chatClosed')}</Tag>;
  if (!status.relay_seen_at) {
    return (
      <Tooltip title={t('monitor.relayMissingHint')}>
        <Tag color="orange" data-testid="monitor-chat" data-state="open">
          {t('monitor.chatOpen')}
        </Tag>
      </Tooltip>
    );
  }
  if (!status.relay_metered) {
    return (
      <Tooltip title={t('monitor.notMeteredHint')}>
        <Tag color="orange" data-testid="monitor-chat" data-state="not-metered">
          {t('monitor.notMetered')}
        </Tag>
      </Tooltip>
    );
  }
  return (
    <Tooltip title={t('monitor.relaySince', { time: formatTime(status.relay_seen_at) })}>
      <Tag color="blue" data-testid="monitor-chat" data-state="connected">
        {t('monitor.connected')}
      </Tag>
    </Tooltip>
  );
}

const REFUSALS = ['insufficient_credits', 'daily_budget_spent', 'monthly_budget_spent', 'offline_allowance', 'integration_disabled', 'unknown_app', 'app_disabled'] as const;
type Refusal = (typeof REFUSALS)[number];

function refusalText(t: ReturnType<typeof useTranslation>['t'], code: string | null): string {
  // A code this UI does not know yet is still shown, untranslated.
  return REFUSALS.includes(code as Refusal) ? t(`monitor.refusals.${code as Refusal}`) : (code ?? '');
}
