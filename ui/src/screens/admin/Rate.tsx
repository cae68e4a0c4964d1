import { Card, Col, Form, Input, Row, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../../api';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatDecimal, formatTime } from '../../format';
import { useLoad } from '../../hooks';
import { DECIMAL, decimalRule, FormFooter, ReasonItem, useAdminAction, useRequired } from './shared';

interface RateValues {
  rate: string;
  reason: string;
}

/** One change in the rate's history, as shown: rates as exact decimal strings. */
export interface RateRow {
  key: string;
  changed_at: string;
  old_rate: string | null;
  new_rate: string;
  changed_by: string;
  reason: string;
}

/** The exchange rate: the current one, a change form that needs a reason, and every change before. */
export function RateTab() {
  const rate = useLoad(api.rate, ['ledger-changed']);
  const history = rate.data?.history.map((c) => ({
    ...c,
    key: String(c.id),
    old_rate: c.old_rate === null ? null : formatDecimal(c.old_rate),
    new_rate: formatDecimal(c.new_rate),
  }));
  return (
    <RatePanel
      rate={rate.data ? formatDecimal(rate.data.credits_per_usd) : null}
      history={history}
      loading={!rate.data && !rate.error}
      error={rate.error}
      change={changeLocalRate}
    />
  );
}

interface RatePanelProps {
  rate: string | null;
  history: RateRow[] | undefined;
  loading: boolean;
  error: unknown;
  change: (rate: string, reason: string) => Promise<RateChanged>;
}

/** The rate, its change form and its history, wherever the rate is kept (locally or on the org server). */
export function RatePanel({ rate, history, loading, error, change }: RatePanelProps) {
  const { t } = useTranslation();
  const columns: ColumnsType<RateRow> = [
    { title: t('admin.col.time'), dataIndex: 'changed_at', render: (v: string) => formatTime(v), width: 160 },
    { title: t('admin.col.oldRate'), dataIndex: 'old_rate', align: 'right', render: (v: string | null) => v ?? t('common.none') },
    { title: t('admin.col.newRate'), dataIndex: 'new_rate', align: 'right' },
    { title: t('admin.col.by'), dataIndex: 'changed_by' },
    { title: t('admin.reason'), dataIndex: 'reason' },
  ];
  return (
    <Row gutter={[12, 12]}>
      <Col xs={24} lg={10}>
        <Card size="small" title={t('admin.rateTitle')} loading={loading}>
          <ErrorAlert error={error} />
          {rate !== null && (
            <Typography.Text strong style={{ fontSize: 20 }} data-testid="current-rate">
              {t('admin.currentRate', { rate })}
            </Typography.Text>
          )}
          <RateForm change={change} />
        </Card>
      </Col>
      <Col xs={24} lg={14}>
        <Card size="small" title={t('admin.rateHistory')}>
          <DataTable<RateRow>
            rowKey="key"
            columns={columns}
            dataSource={history}
            loading={loading}
            rowTestId="rate-history-row"
            pagination={{ pageSize: 20, hideOnSinglePage: true }}
          />
        </Card>
      </Col>
    </Row>
  );
}

/** What a rate change reports back, as the done message shows it. */
export interface RateChanged {
  old: string | null;
  new: string;
}

/** A new rate and its reason; `change` makes it (locally or on the org server). */
function RateForm({ change }: { change: (rate: string, reason: string) => Promise<RateChanged> }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<RateValues>();
  const [done, setDone] = useState<string | null>(null);
  const submit = useAdminAction((v: RateValues) => change(v.rate.trim(), v.reason.trim()));

  const finish = async (values: RateValues) => {
    setDone(null);
    const changed = await submit.run(values);
    if (!changed) return;
    setDone(t('admin.rateDone', { old: changed.old ?? t('common.none'), new: changed.new }));
    form.resetFields();
  };

  return (
    <Form form={form} layout="vertical" requiredMark={false} onFinish={finish} style={{ marginTop: 12 }}>
      <Form.Item name="rate" label={t('admin.newRate')} rules={[useRequired(), decimalRule(DECIMAL, t('admin.rateInvalid'))]}>
        <Input inputMode="decimal" data-testid="rate-input" />
      </Form.Item>
      <ReasonItem testId="rate-reason" />
      <FormFooter busy={submit.busy} error={submit.error} done={done} label={t('admin.rateSubmit')} testId="rate-submit" />
    </Form>
  );
}

async function changeLocalRate(rate: string, reason: string): Promise<RateChanged> {
  const change = await api.adminSetRate(rate, reason);
  return { old: change.old_rate === null ? null : formatDecimal(change.old_rate), new: formatDecimal(change.new_rate) };
}
