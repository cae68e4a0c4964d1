import { Button, Card, Col, Form, Input, Popconfirm, Radio, Row, Space, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { DataTable } from '../../components/DataTable';
import { RefreshCard } from '../../components/RefreshCard';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatCount, formatMicros, formatTime } from '../../format';
import { orgApi, type Device, type NewEnrollmentCode, type OrgRole, type UserSummary } from '../../orgApi';
import { FormFooter, passwordRules, useAdminAction, useRequired, useRowAction } from '../admin/shared';
import { useOrgLoad } from './shared';
import { BalanceItems, type BalanceValues } from '../admin/Users';
import { BudgetModal, BudgetSpend } from './Budget';
import { ShownOnceModal } from './ShownOnce';

/** Users & devices: the org's people with their balances and budgets, adding staff, enrollment codes, credits, and devices. */
export function PeopleTab() {
  const { t } = useTranslation();
  const users = useOrgLoad(orgApi.users);
  const devices = useOrgLoad(orgApi.devices);
  const [code, setCode] = useState<NewEnrollmentCode | null>(null);
  const [budgetOf, setBudgetOf] = useState<UserSummary | null>(null);
  const enroll = useRowAction<string, [string], NewEnrollmentCode>(orgApi.enrollmentCode);
  const refresh = () => void Promise.all([users.reload(), devices.reload()]);

  const makeCode = async (user: string) => {
    const made = await enroll.run(user, user);
    if (made) setCode(made);
  };

  const columns: ColumnsType<UserSummary> = [
    { title: t('admin.users.name'), key: 'name', render: (_, u) => u.user.name },
    { title: t('admin.users.displayName'), key: 'display', render: (_, u) => u.user.display_name },
    {
      title: t('admin.users.role'),
      key: 'role',
      render: (_, u) => <Tag color={u.user.role === 'admin' ? 'purple' : 'default'}>{t(`admin.users.roles.${u.user.role}`)}</Tag>,
    },
    { title: t('dashboard.balance'), dataIndex: 'balance_micros', align: 'right', render: (m: number) => formatMicros(m) },
    {
      title: t('orgAdmin.budget.today'),
      key: 'today',
      align: 'right',
      render: (_, u) => <BudgetSpend spent={u.spent_today_micros} budget={u.daily_budget_micros} testId="budget-today" />,
    },
    {
      title: t('orgAdmin.budget.month'),
      key: 'month',
      align: 'right',
      render: (_, u) => <BudgetSpend spent={u.spent_month_micros} budget={u.monthly_budget_micros} testId="budget-month" />,
    },
    { title: t('orgAdmin.devices'), dataIndex: 'devices', align: 'right', render: (n: number) => formatCount(n) },
    {
      title: t('common.actions'),
      key: 'actions',
      render: (_, u) => (
        <Space size={0}>
          <Button
            size="small"
            type="link"
            loading={enroll.isBusy(u.user.name)}
            onClick={() => void makeCode(u.user.name)}
            data-testid={`enroll-code-${u.user.name}`}
          >
            {t('orgAdmin.makeCode')}
          </Button>
          <Button size="small" type="link" onClick={() => setBudgetOf(u)} data-testid={`budget-edit-${u.user.name}`}>
            {t('orgAdmin.budget.edit')}
          </Button>
        </Space>
      ),
    },
  ];

  return (
    <Row gutter={[12, 12]}>
      <Col xs={24} xl={15}>
        <Space direction="vertical" style={{ width: '100%' }}>
          <RefreshCard title={t('orgAdmin.people')} onRefresh={refresh}>
            <ErrorAlert error={users.error ?? enroll.error} />
            <DataTable<UserSummary>
              rowKey={(u) => u.user.id}
              columns={columns}
              dataSource={users.data ?? undefined}
              loading={!users.data && !users.error}
              rowTestId="org-user-row"
              rowAttrs={(u) => ({ 'data-user': u.user.name })}
            />
          </RefreshCard>
          <DevicesCard devices={devices.data} error={devices.error} onChanged={() => void devices.reload()} />
        </Space>
      </Col>
      <Col xs={24} xl={9}>
        <Space direction="vertical" style={{ width: '100%' }}>
          <AddUserForm onAdded={() => void users.reload()} />
          <CreditsForm users={users.data ?? []} onDone={() => void users.reload()} />
        </Space>
      </Col>
      <EnrollmentCodeModal code={code} onClose={() => setCode(null)} />
      <BudgetModal user={budgetOf} onClose={() => setBudgetOf(null)} onSaved={() => void users.reload()} />
    </Row>
  );
}

/** The code is shown this once: the server keeps only its hash. */
function EnrollmentCodeModal({ code, onClose }: { code: NewEnrollmentCode | null; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <ShownOnceModal
      open={code !== null}
      title={t('orgAdmin.codeTitle', { user: code?.user })}
      warning={code && t('orgAdmin.codeOnce', { time: formatTime(code.expires_at) })}
      onClose={onClose}
      doneTestId="enrollment-code-done"
    >
      {code && (
        <>
          <Typography.Text type="secondary">{t('orgAdmin.code')}</Typography.Text>
          <Typography.Text code copyable strong style={{ fontSize: 18 }} data-testid="enrollment-code">
            {code.code}
          </Typography.Text>
          <Typography.Text type="secondary">{t('orgAdmin.joinLink')}</Typography.Text>
          <Typography.Paragraph code copyable style={{ wordBreak: 'break-all' }} data-testid="enrollment-link">
            {code.join_link}
          </Typography.Paragraph>
        </>
      )}
    </ShownOnceModal>
  );
}

/** Clock skew worth a look: charges are dated by the device's clock. */
const SKEW_WARN_MS = 5 * 60 * 1000;

function DevicesCard({ devices, error, onChanged }: { devices: Device[] | null; error: unknown; onChanged: () => void }) {
  const { t } = useTranslation();
  const revoke = useRowAction<string, [string], Device>(orgApi.revokeDevice);
  const columns: ColumnsType<Device> = [
    { title: t('admin.user'), dataIndex: 'user' },
    { title: t('orgAdmin.device'), dataIndex: 'name' },
    { title: t('orgAdmin.lastSeen'), dataIndex: 'last_seen', render: (v: string | null) => (v ? formatTime(v) : t('org.never')) },
    {
      title: t('orgAdmin.skew'),
      dataIndex: 'clock_skew_ms',
      align: 'right',
      render: (ms: number | null) =>
        ms === null ? (
          t('common.none')
        ) : (
          <Typography.Text type={Math.abs(ms) > SKEW_WARN_MS ? 'warning' : undefined}>{t('orgAdmin.seconds', { seconds: formatCount(Math.round(ms / 1000)) })}</Typography.Text>
        ),
    },
    {
      title: <Tooltip title={t('orgAdmin.missedRepliesHint')}>{t('orgAdmin.missedReplies')}</Tooltip>,
      dataIndex: 'unreported_replies',
      align: 'right',
      render: (n: number) =>
        n > 0 ? (
          <Tag color="volcano" data-testid="missed-replies">
            {formatCount(n)}
          </Tag>
        ) : (
          formatCount(n)
        ),
    },
    {
      title: t('common.actions'),
      key: 'actions',
      render: (_, d) =>
        d.revoked ? (
          <Tag color="red">{t('org.revoked')}</Tag>
        ) : (
          <Popconfirm
            title={t('orgAdmin.revokeConfirm', { device: d.name, user: d.user })}
            okText={t('orgAdmin.revoke')}
            okButtonProps={{ danger: true, ...{ 'data-testid': 'revoke-confirm' } }}
            onConfirm={() => void revoke.run(d.id, d.id).then((done) => done && onChanged())}
          >
            <Button size="small" type="link" danger loading={revoke.isBusy(d.id)} data-testid={`revoke-${d.id}`}>
              {t('orgAdmin.revoke')}
            </Button>
          </Popconfirm>
        ),
    },
  ];
  return (
    <Card size="small" title={t('orgAdmin.devicesTitle')}>
      <ErrorAlert error={error ?? revoke.error} />
      <DataTable<Device>
        rowKey="id"
        columns={columns}
        dataSource={devices ?? undefined}
        loading={!devices && !error}
        rowTestId="org-device-row"
        rowAttrs={(d) => ({ 'data-device': d.id, 'data-revoked': String(d.revoked) })}
      />
    </Card>
  );
}

interface NewUserValues {
  name: string;
  display_name?: string;
  role: OrgRole;
  password?: string;
  confirm?: string;
}

function AddUserForm({ onAdded }: { onAdded: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<NewUserValues>();
  const [done, setDone] = useState<string | null>(null);
  const role = Form.useWatch('role', form) ?? 'staff';
  const required = useRequired();
  const rules = passwordRules(t, 'password');
  const submit = useAdminAction((v: NewUserValues) =>
    orgApi.addUser({
      name: v.name.trim(),
      display_name: v.display_name?.trim() || null,
      role: v.role,
      password: v.role === 'admin' ? (v.password ?? null) : null,
    }),
  );
  const finish = async (values: NewUserValues) => {
    setDone(null);
    const user = await submit.run(values);
    if (!user) return;
    setDone(t('orgAdmin.added', { name: user.name }));
    form.resetFields();
    onAdded();
  };
  return (
    <Card size="small" title={t('orgAdmin.addUser')}>
      <Form form={form} layout="vertical" requiredMark={false} onFinish={finish} initialValues={{ role: 'staff' }}>
        <Form.Item name="name" label={t('admin.users.name')} extra={t('orgAdmin.nameHint')} rules={[required]}>
          <Input maxLength={100} data-testid="new-user-name" />
        </Form.Item>
        <Form.Item name="display_name" label={t('admin.users.displayName')}>
          <Input maxLength={100} data-testid="new-user-display" />
        </Form.Item>
        <Form.Item name="role" label={t('admin.users.role')}>
          <Radio.Group
            optionType="button"
            options={(['staff', 'admin'] as const).map((r) => ({ value: r, label: t(`admin.users.roles.${r}`) }))}
            data-testid="new-user-role"
          />
        </Form.Item>
        {role === 'admin' && (
          <>
            <Form.Item name="password" label={t('admin.password.label')} rules={rules.password}>
              <Input.Password autoComplete="new-password" data-testid="new-user-password" />
            </Form.Item>
            <Form.Item name="confirm" label={t('admin.confirm')} dependencies={['password']} rules={rules.confirm}>
              <Input.Password autoComplete="new-password" data-testid="new-user-confirm" />
            </Form.Item>
          </>
        )}
        <FormFooter busy={submit.busy} error={submit.error} done={done} label={t('orgAdmin.addUser')} testId="new-user-submit" />
      </Form>
    </Card>
  );
}

/** A grant, top-up or adjustment on the server; the user's devices see it at their next sync. */
function CreditsForm({ users, onDone }: { users: UserSummary[]; onDone: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<BalanceValues>();
  const [done, setDone] = useState<string | null>(null);
  const kind = Form.useWatch('kind', form) ?? 'grant';
  const submit = useAdminAction((v: BalanceValues) => orgApi.addEntry(v.user.trim(), v.kind, v.amount.trim(), v.reason.trim()));
  const finish = async (values: BalanceValues) => {
    setDone(null);
    const entry = await submit.run(values);
    if (!entry) return;
    const amount = formatMicros(entry.amount_micros, { signed: values.kind === 'adjust' });
    setDone(t(`admin.balance.done.${values.kind}`, { amount, user: values.user.trim() }));
    form.resetFields(['amount', 'reason']);
    onDone();
  };
  return (
    <Card size="small" title={t('admin.balance.title')}>
      <Form form={form} layout="vertical" requiredMark={false} onFinish={finish} initialValues={{ kind: 'grant' }}>
        <BalanceItems kind={kind} users={users.map((u) => u.user)} />
        <FormFooter busy={submit.busy} error={submit.error} done={done} label={t(`admin.balance.submit.${kind}`)} testId="grant-submit" />
      </Form>
    </Card>
  );
}
