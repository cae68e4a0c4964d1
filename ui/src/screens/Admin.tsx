import { Button, Card, Form, Input, Space, Spin, Tabs, Typography } from 'antd';
import { Suspense, useCallback, useEffect, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type AdminStatus } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { Page } from '../components/Page';
import { hasCode, SESSION_REQUIRED } from '../errors';
import { formatTime } from '../format';
import { useAction, useLoad } from '../hooks';
import { lazyNamed } from '../lazy';
import type { Messages } from '../locales/en';
import { AppsTab } from './admin/Apps';
import { GuardsTab } from './admin/Guards';
import { HeldTab } from './admin/Held';
import { ModelsTab } from './admin/Models';
import { PasswordTab } from './admin/Password';
import { RateTab } from './admin/Rate';
import { CommandErrorContext, passwordRules, useAdminAction } from './admin/shared';
import { UsersTab } from './admin/Users';

// An enrolled device's console runs the org's server; an island's admin never loads its code, nor the reverse.
const OrgAdmin = lazyNamed(() => import('./org/OrgAdmin'), 'OrgAdmin');

// setTimeout fires at once for delays beyond 2^31-1 ms; a session that long is re-checked after ~24 days.
const MAX_TIMER_MS = 2 ** 31 - 1;

const sessionLive = (s: AdminStatus) => s.session_expires_at !== null && Date.parse(s.session_expires_at) > Date.now();

/** The admin window: the org's console on its server when this device is enrolled, else the island's own. */
export function Admin() {
  const { t } = useTranslation();
  // Joining an org while this window is open turns it into the org's console.
  const { data: wayIn, error } = useLoad(api.wayIn, ['ledger-changed']);
  let body;
  if (!wayIn) body = error ? <ErrorAlert error={error} /> : <Spin />;
  else if (wayIn.mode === 'org') body = <OrgAdmin />;
  else body = <LocalAdmin />;
  return (
    <Page title={t('app.windows.admin')}>
      <Suspense fallback={<Spin />}>{body}</Suspense>
    </Page>
  );
}

function LocalAdmin() {
  const [status, setStatus] = useState<AdminStatus | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(() => api.adminStatus().then(setStatus, setError), []);

  useEffect(() => {
    void load();
  }, [load]);

  // Sessions expire on the Rust side; ask again when this one should end, so the login form comes back.
  useEffect(() => {
    const at = status?.session_expires_at;
    if (!at) return;
    const timer = setTimeout(load, Math.min(Math.max(0, Date.parse(at) - Date.now()) + 500, MAX_TIMER_MS));
    return () => clearTimeout(timer);
  }, [status, load]);

  // Any admin command can find the session gone (expired, or logged out in another way).
  const onCommandError = useCallback(
    (e: unknown) => {
      if (hasCode(e, SESSION_REQUIRED)) void load();
    },
    [load],
  );

  if (!status) return error ? <ErrorAlert error={error} /> : <Spin />;
  if (!status.password_set) return <PasswordForm mode="set" onDone={setStatus} />;
  if (!sessionLive(status)) return <PasswordForm mode="login" onDone={setStatus} />;
  return (
    <CommandErrorContext.Provider value={onCommandError}>
      <AdminPanel expiresAt={status.session_expires_at!} onLoggedOut={load} onStatus={setStatus} />
    </CommandErrorContext.Provider>
  );
}

function PasswordForm({ mode, onDone }: { mode: 'set' | 'login'; onDone: (s: AdminStatus) => void }) {
  const { t } = useTranslation();
  const setting = mode === 'set';
  const submit = useAction(useCallback((password: string) => (setting ? api.adminSetPassword(password) : api.adminLogin(password)), [setting]));
  const rules = passwordRules(t, 'password');

  const finish = async ({ password }: { password: string }) => {
    const status = await submit.run(password);
    if (status) onDone(status);
  };

  return (
    <Card size="small" title={t(setting ? 'admin.setTitle' : 'admin.loginTitle')} style={{ maxWidth: 420 }}>
      {setting && <Typography.Paragraph type="secondary">{t('admin.setHint')}</Typography.Paragraph>}
      <Form layout="vertical" requiredMark={false} onFinish={finish}>
        <Form.Item name="password" label={t('admin.password.label')} rules={setting ? rules.password : [rules.required]}>
          <Input.Password autoFocus autoComplete={setting ? 'new-password' : 'current-password'} data-testid="admin-password" />
        </Form.Item>
        {setting && (
          <Form.Item name="confirm" label={t('admin.confirm')} dependencies={['password']} rules={rules.confirm}>
            <Input.Password autoComplete="new-password" data-testid="admin-password-confirm" />
          </Form.Item>
        )}
        <Space direction="vertical" style={{ width: '100%' }}>
          <ErrorAlert error={submit.error} testId="admin-error" />
          <Button type="primary" htmlType="submit" loading={submit.busy} data-testid="admin-submit">
            {t(setting ? 'admin.submitSet' : 'admin.submitLogin')}
          </Button>
        </Space>
      </Form>
    </Card>
  );
}

interface PanelProps {
  expiresAt: string;
  onLoggedOut: () => void;
  onStatus: (status: AdminStatus) => void;
}

function AdminPanel({ expiresAt, onLoggedOut, onStatus }: PanelProps) {
  const { t } = useTranslation();
  const logout = useAdminAction(api.adminLogout);
  const tab = (key: keyof Messages['admin']['tabs'], content: ReactNode) => ({
    key,
    label: <span data-testid={`admin-tab-${key}`}>{t(`admin.tabs.${key}`)}</span>,
    children: content,
  });

  return (
    <Tabs
      defaultActiveKey="models"
      tabBarExtraContent={
        <Space wrap>
          <Typography.Text type="secondary" data-testid="admin-session">
            {t('admin.session', { time: formatTime(expiresAt) })}
          </Typography.Text>
          <Button size="small" loading={logout.busy} onClick={() => void logout.run().then(onLoggedOut)} data-testid="admin-logout">
            {t('admin.logout')}
          </Button>
          <ErrorAlert error={logout.error} />
        </Space>
      }
      items={[
        tab('models', <ModelsTab />),
        tab('rate', <RateTab />),
        tab('users', <UsersTab />),
        tab('apps', <AppsTab />),
        tab('guards', <GuardsTab />),
        tab('held', <HeldTab />),
        tab('password', <PasswordTab onStatus={onStatus} />),
      ]}
    />
  );
}
