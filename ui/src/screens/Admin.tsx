import { Alert, Button, Card, Col, Form, Input, Row, Space, Spin, Typography } from 'antd';
import type { Rule } from 'antd/es/form';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type AdminStatus } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { Page } from '../components/Page';
import { hasCode, SESSION_REQUIRED } from '../errors';
import { formatCredits, formatTime } from '../format';
import { useAction } from '../hooks';

// setTimeout fires at once for delays beyond 2^31-1 ms; a session that long is re-checked after ~24 days.
const MAX_TIMER_MS = 2 ** 31 - 1;

const sessionLive = (s: AdminStatus) => s.session_expires_at !== null && Date.parse(s.session_expires_at) > Date.now();

export function Admin() {
  const { t } = useTranslation();
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
  const onCommandError = (e: unknown) => {
    if (hasCode(e, SESSION_REQUIRED)) void load();
  };

  let body;
  if (!status) body = error ? <ErrorAlert error={error} /> : <Spin />;
  else if (!status.password_set) body = <PasswordForm mode="set" onDone={setStatus} />;
  else if (!sessionLive(status)) body = <PasswordForm mode="login" onDone={setStatus} />;
  else body = <AdminPanel expiresAt={status.session_expires_at!} onLoggedOut={load} onCommandError={onCommandError} />;

  return <Page title={t('app.windows.admin')}>{body}</Page>;
}

function PasswordForm({ mode, onDone }: { mode: 'set' | 'login'; onDone: (s: AdminStatus) => void }) {
  const { t } = useTranslation();
  const setting = mode === 'set';
  const submit = useAction(useCallback((password: string) => (setting ? api.adminSetPassword(password) : api.adminLogin(password)), [setting]));
  const required: Rule = { required: true, message: t('admin.required') };

  const finish = async ({ password }: { password: string }) => {
    const status = await submit.run(password);
    if (status) onDone(status);
  };

  return (
    <Card size="small" title={t(setting ? 'admin.setTitle' : 'admin.loginTitle')} style={{ maxWidth: 420 }}>
      {setting && <Typography.Paragraph type="secondary">{t('admin.setHint')}</Typography.Paragraph>}
      <Form layout="vertical" requiredMark={false} onFinish={finish}>
        <Form.Item name="password" label={t('admin.password')} rules={setting ? [required, { min: 8, message: t('admin.tooShort') }] : [required]}>
          <Input.Password autoFocus autoComplete={setting ? 'new-password' : 'current-password'} data-testid="admin-password" />
        </Form.Item>
        {setting && (
          <Form.Item
            name="confirm"
            label={t('admin.confirm')}
            dependencies={['password']}
            rules={[
              required,
              ({ getFieldValue }) => ({
                validator: (_, value) =>
                  !value || value === getFieldValue('password') ? Promise.resolve() : Promise.reject(new Error(t('admin.mismatch'))),
              }),
            ]}
          >
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

/** A rule for decimal strings that Rust parses exactly: digits, an optional fraction, above zero. */
function positiveDecimal(pattern: RegExp, message: string): Rule {
  return {
    validator: (_, value?: string) =>
      !value || (pattern.test(value.trim()) && Number(value) > 0) ? Promise.resolve() : Promise.reject(new Error(message)),
  };
}

interface PanelProps {
  expiresAt: string;
  onLoggedOut: () => void;
  onCommandError: (e: unknown) => void;
}

function AdminPanel({ expiresAt, onLoggedOut, onCommandError }: PanelProps) {
  const { t } = useTranslation();
  const [rate, setRate] = useState<number | null>(null);
  const [account, setAccount] = useState<string>();
  const logout = useAction(api.adminLogout, onCommandError);

  useEffect(() => {
    // Only context for the forms (current rate, default user); the forms work without it.
    api.dashboard().then(
      (d) => {
        setRate(d.credits_per_usd);
        setAccount(d.account);
      },
      () => undefined,
    );
  }, []);

  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }}>
      <Space wrap>
        <Typography.Text type="secondary" data-testid="admin-session">
          {t('admin.session', { time: formatTime(expiresAt) })}
        </Typography.Text>
        <Button size="small" loading={logout.busy} onClick={() => void logout.run().then(onLoggedOut)} data-testid="admin-logout">
          {t('admin.logout')}
        </Button>
      </Space>
      <ErrorAlert error={logout.error} />
      <Row gutter={[12, 12]}>
        <Col xs={24} lg={12}>
          <RateForm rate={rate} onChanged={setRate} onCommandError={onCommandError} />
        </Col>
        <Col xs={24} lg={12}>
          <GrantForm defaultUser={account} onCommandError={onCommandError} />
        </Col>
      </Row>
    </Space>
  );
}

interface RateValues {
  rate: string;
  reason: string;
}

function RateForm({ rate, onChanged, onCommandError }: { rate: number | null; onChanged: (r: number) => void; onCommandError: (e: unknown) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<RateValues>();
  const [done, setDone] = useState<string | null>(null);
  const submit = useAction(
    useCallback((v: RateValues) => api.adminSetRate(v.rate.trim(), v.reason.trim()), []),
    onCommandError,
  );

  const finish = async (values: RateValues) => {
    setDone(null);
    const change = await submit.run(values);
    if (!change) return;
    onChanged(change.new_rate);
    setDone(t('admin.rateDone', { old: change.old_rate === null ? t('common.none') : formatCredits(change.old_rate), new: formatCredits(change.new_rate) }));
    form.resetFields();
  };

  return (
    <Card size="small" title={t('admin.rateTitle')}>
      {rate !== null && (
        <Typography.Paragraph type="secondary" data-testid="current-rate">
          {t('admin.currentRate', { rate: formatCredits(rate) })}
        </Typography.Paragraph>
      )}
      <Form form={form} layout="vertical" requiredMark={false} onFinish={finish}>
        <Form.Item
          name="rate"
          label={t('admin.rate')}
          rules={[{ required: true, message: t('admin.required') }, positiveDecimal(/^\d+(\.\d+)?$/, t('admin.rateInvalid'))]}
        >
          <Input inputMode="decimal" data-testid="rate-input" />
        </Form.Item>
        <Form.Item
          name="reason"
          label={t('admin.reason')}
          extra={t('admin.reasonHint')}
          rules={[{ required: true, whitespace: true, message: t('admin.required') }]}
        >
          <Input data-testid="rate-reason" />
        </Form.Item>
        <FormFooter busy={submit.busy} error={submit.error} done={done} label={t('admin.rateSubmit')} testId="rate-submit" />
      </Form>
    </Card>
  );
}

interface GrantValues {
  user: string;
  amount: string;
  reason: string;
}

function GrantForm({ defaultUser, onCommandError }: { defaultUser?: string; onCommandError: (e: unknown) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<GrantValues>();
  const [done, setDone] = useState<string | null>(null);
  const submit = useAction(
    useCallback((v: GrantValues) => api.adminGrant(v.user.trim(), v.amount.trim(), v.reason.trim()), []),
    onCommandError,
  );

  const finish = async (values: GrantValues) => {
    setDone(null);
    const entry = await submit.run(values);
    if (!entry) return;
    setDone(t('admin.grantDone', { amount: formatCredits(entry.amount), user: values.user.trim() }));
    form.resetFields(['amount', 'reason']);
  };

  // The account arrives after the first render; fill it in unless the admin already typed a user.
  useEffect(() => {
    if (defaultUser && !form.isFieldTouched('user')) form.setFieldsValue({ user: defaultUser });
  }, [defaultUser, form]);

  const required: Rule = { required: true, whitespace: true, message: t('admin.required') };
  return (
    <Card size="small" title={t('admin.grantTitle')}>
      <Form form={form} layout="vertical" requiredMark={false} onFinish={finish}>
        <Form.Item name="user" label={t('admin.user')} rules={[required]}>
          <Input data-testid="grant-user" />
        </Form.Item>
        <Form.Item name="amount" label={t('admin.amount')} rules={[required, positiveDecimal(/^\d+(\.\d{1,6})?$/, t('admin.amountInvalid'))]}>
          <Input inputMode="decimal" data-testid="grant-amount" />
        </Form.Item>
        <Form.Item name="reason" label={t('admin.reason')} rules={[required]}>
          <Input data-testid="grant-reason" />
        </Form.Item>
        <FormFooter busy={submit.busy} error={submit.error} done={done} label={t('admin.grantSubmit')} testId="grant-submit" />
      </Form>
    </Card>
  );
}

function FormFooter({ busy, error, done, label, testId }: { busy: boolean; error: unknown; done: string | null; label: string; testId: string }) {
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <ErrorAlert error={error} />
      {done && <Alert type="success" showIcon message={done} />}
      <Button type="primary" htmlType="submit" loading={busy} data-testid={testId}>
        {label}
      </Button>
    </Space>
  );
}
