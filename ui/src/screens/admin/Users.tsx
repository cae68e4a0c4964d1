import { AutoComplete, Button, Card, Col, Drawer, Form, Input, Radio, Row, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type Account, type BalanceKind, type Entry } from '../../api';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { LedgerList } from '../../components/LedgerList';
import { formatCredits, formatTime } from '../../format';
import { useHistory } from '../../history';
import { useLoad } from '../../hooks';
import { CREDITS, decimalRule, FormFooter, FormModal, ReasonItem, SIGNED_CREDITS, useAdminAction, useRequired } from './shared';

const KINDS: BalanceKind[] = ['grant', 'topup', 'adjust'];

/** Accounts with their balances, a form to grant, top up or adjust, and each account's ledger. */
export function UsersTab() {
  const { t } = useTranslation();
  const accounts = useLoad(api.accounts);
  const [ledgerOf, setLedgerOf] = useState<string | null>(null);
  const columns: ColumnsType<Account> = [
    { title: t('admin.users.name'), dataIndex: 'name' },
    { title: t('admin.users.displayName'), dataIndex: 'display_name' },
    { title: t('admin.users.role'), dataIndex: 'role', render: (r: Account['role']) => <Tag color={r === 'admin' ? 'purple' : 'default'}>{t(`admin.users.roles.${r}`)}</Tag> },
    // Exactly as Rust sent it, like the dashboard's balance.
    { title: t('dashboard.balance'), dataIndex: 'balance', align: 'right', render: (b: string) => formatCredits(b) },
    { title: t('admin.col.created'), dataIndex: 'created_at', render: (v: string) => formatTime(v) },
    {
      title: t('common.actions'),
      key: 'actions',
      render: (_, a) => (
        <Button size="small" type="link" onClick={() => setLedgerOf(a.name)} data-testid={`user-ledger-${a.name}`}>
          {t('admin.users.ledger')}
        </Button>
      ),
    },
  ];
  return (
    <Row gutter={[12, 12]}>
      <Col xs={24} xl={15}>
        <Card size="small" title={t('admin.tabs.users')}>
          <ErrorAlert error={accounts.error} />
          <DataTable<Account>
            rowKey="name"
            columns={columns}
            dataSource={accounts.data ?? undefined}
            loading={!accounts.data && !accounts.error}
            rowTestId="account-row"
            rowAttrs={(a) => ({ 'data-account': a.name })}
          />
        </Card>
      </Col>
      <Col xs={24} xl={9}>
        <BalanceForm accounts={accounts.data ?? []} />
      </Col>
      <Drawer open={ledgerOf !== null} onClose={() => setLedgerOf(null)} title={t('admin.users.ledgerTitle', { name: ledgerOf })} width={960} destroyOnHidden>
        {ledgerOf && <AccountLedger account={ledgerOf} />}
      </Drawer>
    </Row>
  );
}

export interface BalanceValues {
  user: string;
  kind: BalanceKind;
  amount: string;
  reason: string;
}

function BalanceForm({ accounts }: { accounts: Account[] }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<BalanceValues>();
  const [done, setDone] = useState<string | null>(null);
  const kind = Form.useWatch('kind', form) ?? 'grant';
  const submit = useAdminAction((v: BalanceValues) => api.adminAdjustBalance(v.user.trim(), v.kind, v.amount.trim(), v.reason.trim()));

  const finish = async (values: BalanceValues) => {
    setDone(null);
    const entry = await submit.run(values);
    if (!entry) return;
    setDone(t(`admin.balance.done.${values.kind}`, { amount: formatCredits(entry.amount, { signed: values.kind === 'adjust' }), user: values.user.trim() }));
    form.resetFields(['amount', 'reason']);
  };

  // Credits go to staff most of the time: start with the first staff account, unless the admin typed one.
  const initialUser = accounts.find((a) => a.role === 'staff')?.name;
  useEffect(() => {
    if (initialUser && !form.isFieldTouched('user')) form.setFieldsValue({ user: initialUser });
  }, [initialUser, form]);
  return (
    <Card size="small" title={t('admin.balance.title')}>
      <Form form={form} layout="vertical" requiredMark={false} onFinish={finish} initialValues={{ kind: 'grant' }}>
        <BalanceItems kind={kind} users={accounts.map((a) => ({ name: a.name, display_name: a.display_name }))} />
        <FormFooter busy={submit.busy} error={submit.error} done={done} label={t(`admin.balance.submit.${kind}`)} testId="grant-submit" />
      </Form>
    </Card>
  );
}

/** The fields of a grant, top-up or adjustment: whose, which kind, how many credits, and why. */
export function BalanceItems({ kind, users }: { kind: BalanceKind; users: { name: string; display_name: string }[] }) {
  const { t } = useTranslation();
  const required = useRequired();
  return (
    <>
      <Form.Item name="user" label={t('admin.user')} rules={[required]}>
        <AutoComplete options={users.map((u) => ({ value: u.name, label: `${u.name} · ${u.display_name}` }))}>
          <Input data-testid="grant-user" />
        </AutoComplete>
      </Form.Item>
      <Form.Item name="kind" label={t('admin.balance.kind')}>
        <Radio.Group
          optionType="button"
          options={KINDS.map((k) => ({ value: k, label: t(`admin.balance.kinds.${k}`) }))}
          data-testid="balance-kind"
        />
      </Form.Item>
      <Form.Item
        name="amount"
        label={t('admin.amount')}
        extra={kind === 'adjust' ? t('admin.balance.adjustHint') : undefined}
        rules={[
          required,
          kind === 'adjust'
            ? decimalRule(SIGNED_CREDITS, t('admin.balance.signedInvalid'), (v) => v !== 0n)
            : decimalRule(CREDITS, t('admin.amountInvalid')),
        ]}
      >
        <Input inputMode="decimal" data-testid="grant-amount" />
      </Form.Item>
      <ReasonItem testId="grant-reason" />
    </>
  );
}

/** One account's ledger, with a reverse action on every entry that is not itself a reversal. */
function AccountLedger({ account }: { account: string }) {
  const { t } = useTranslation();
  const filter = useMemo(() => ({ account }), [account]);
  const state = useHistory(filter);
  const [reversing, setReversing] = useState<Entry | null>(null);
  const actions = useCallback(
    (e: Entry) =>
      e.kind !== 'reversal' && (
        <Button size="small" type="link" danger onClick={() => setReversing(e)} data-testid={`reverse-${e.id}`}>
          {t('admin.users.reverse')}
        </Button>
      ),
    [t],
  );
  return (
    <>
      <LedgerList state={state} actions={actions} />
      <FormModal<{ reason: string }>
        title={t('admin.users.reverseTitle', { amount: reversing && formatCredits(reversing.amount, { signed: true }) })}
        initialValues={reversing && {}}
        onClose={() => setReversing(null)}
        submit={(v) => api.adminReverse(reversing!.id, v.reason.trim())}
        doneMessage={t('admin.users.reversed')}
        submitLabel={t('admin.users.reverse')}
        submitTestId="reverse-submit"
      >
        <ReasonItem testId="reverse-reason" />
      </FormModal>
    </>
  );
}
