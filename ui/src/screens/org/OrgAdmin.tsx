import { Alert, Button, Card, Form, Input, Space, Spin, Tabs, Typography } from 'antd';
import { Suspense, useCallback, useEffect, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ErrorAlert } from '../../components/ErrorAlert';
import { hasCode } from '../../errors';
import { formatTime } from '../../format';
import { useAction } from '../../hooks';
import { lazyNamed } from '../../lazy';
import type { Messages } from '../../locales/en';
import { orgApi, type OrgAdminStatus } from '../../orgApi';
import { CommandErrorContext, useAdminAction, useRequired } from '../admin/shared';
import { OrgAppsTab } from './Apps';
import { CodesTab } from './Codes';
import { OrgGuardsTab } from './Guards';
import { OrgHeldTab } from './Held';
import { PeopleTab } from './People';
import { OrgModelsTab, OrgRateTab } from './Pricing';

// The report's chart and date picker load when its tab is first opened.
const ReportTab = lazyNamed(() => import('./Report'), 'ReportTab');
// So do the reconciliation's tables and date pickers.
const ReconcileTab = lazyNamed(() => import('./Reconcile'), 'ReconcileTab');

/** What the server answers when the session is missing or has ended. */
const UNAUTHORIZED = 'unauthorized';

/** The admin window of an enrolled desktop: the org's admin signs in to its server, and runs the org there. */
export function OrgAdmin() {
  const [status, setStatus] = useState<OrgAdminStatus | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(() => orgApi.status().then(setStatus, setError), []);
  useEffect(() => {
    void load();
  }, [load]);

  // A call that finds the session gone (expired, or ended elsewhere) brings the sign-in form back.
  const onCommandError = useCallback(
    (e: unknown) => {
      if (hasCode(e, UNAUTHORIZED)) void load();
    },
    [load],
  );

  if (!status) return error ? <ErrorAlert error={error} /> : <Spin />;
  if (!status.admin) return <SignIn server={status.server} onDone={setStatus} />;
  return (
    <CommandErrorContext.Provider value={onCommandError}>
      <OrgPanel status={status} onSignedOut={load} />
    </CommandErrorContext.Provider>
  );
}

interface SignInValues {
  name: string;
  password: string;
}

function SignIn({ server, onDone }: { server: string; onDone: (status: OrgAdminStatus) => void }) {
  const { t } = useTranslation();
  const submit = useAction(useCallback((v: SignInValues) => orgApi.login(v.name.trim(), v.password), []));
  const required = useRequired();
  const finish = async (values: SignInValues) => {
    const status = await submit.run(values);
    if (status) onDone(status);
  };
  return (
    <Card size="small" title={t('orgAdmin.signInTitle')} style={{ maxWidth: 460 }}>
      <Typography.Paragraph type="secondary" data-testid="org-admin-server">
        {t('orgAdmin.signInHint', { server })}
      </Typography.Paragraph>
      <Form<SignInValues> layout="vertical" requiredMark={false} onFinish={finish}>
        <Form.Item name="name" label={t('orgAdmin.name')} rules={[required]}>
          <Input autoFocus autoComplete="username" data-testid="org-admin-name" />
        </Form.Item>
        <Form.Item name="password" label={t('admin.password.label')} rules={[{ required: true, message: t('admin.required') }]}>
          <Input.Password autoComplete="current-password" data-testid="org-admin-password" />
        </Form.Item>
        <Space direction="vertical" style={{ width: '100%' }}>
          <ErrorAlert error={submit.error} testId="org-admin-error" />
          <Button type="primary" htmlType="submit" loading={submit.busy} data-testid="org-admin-submit">
            {t('orgAdmin.signIn')}
          </Button>
        </Space>
      </Form>
    </Card>
  );
}

function OrgPanel({ status, onSignedOut }: { status: OrgAdminStatus; onSignedOut: () => void }) {
  const { t } = useTranslation();
  const signOut = useAdminAction(orgApi.logout);
  const tab = (key: keyof Messages['orgAdmin']['tabs'], content: ReactNode) => ({
    key,
    label: <span data-testid={`org-tab-${key}`}>{t(`orgAdmin.tabs.${key}`)}</span>,
    children: content,
  });
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Alert type="info" showIcon message={t('orgAdmin.managed', { server: status.server })} data-testid="org-admin-managed" />
      <Tabs
        defaultActiveKey="people"
        tabBarExtraContent={
          <Space wrap>
            <Typography.Text type="secondary" data-testid="org-admin-session">
              {t('orgAdmin.session', { name: status.admin, time: status.expires_at ? formatTime(status.expires_at) : '' })}
            </Typography.Text>
            <Button size="small" loading={signOut.busy} onClick={() => void signOut.run().then(onSignedOut)} data-testid="org-admin-logout">
              {t('admin.logout')}
            </Button>
            <ErrorAlert error={signOut.error} />
          </Space>
        }
        items={[
          tab('people', <PeopleTab />),
          tab('codes', <CodesTab />),
          tab(
            'report',
            <Suspense fallback={<Spin />}>
              <ReportTab />
            </Suspense>,
          ),
          tab('apps', <OrgAppsTab />),
          tab('models', <OrgModelsTab />),
          tab('rate', <OrgRateTab />),
          tab('guards', <OrgGuardsTab />),
          tab('held', <OrgHeldTab />),
          tab(
            'reconcile',
            <Suspense fallback={<Spin />}>
              <ReconcileTab />
            </Suspense>,
          ),
        ]}
      />
    </Space>
  );
}
