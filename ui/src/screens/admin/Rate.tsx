import { Card, Col, Form, Input, Row, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type RateChange } from '../../api';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatExact, formatTime } from '../../format';
import { useLoad } from '../../hooks';
import { DECIMAL, decimalRule, FormFooter, ReasonItem, useAdminAction, useRequired } from './shared';

interface RateValues {
  rate: string;
  reason: string;
}

/** The exchange rate: the current one, a change form that needs a reason, and every change before. */
export function RateTab() {
  const { t } = useTranslation();
  const rate = useLoad(api.rate, ['ledger-changed']);
  const columns: ColumnsType<RateChange> = [
    { title: t('admin.col.time'), dataIndex: 'changed_at', render: (v: string) => formatTime(v), width: 160 },
    { title: t('admin.col.oldRate'), dataIndex: 'old_rate', align: 'right', render: (v: number | null) => (v === null ? t('common.none') : formatExact(v)) },
    { title: t('admin.col.newRate'), dataIndex: 'new_rate', align: 'right', render: (v: number) => formatExact(v) },
    { title: t('admin.col.by'), dataIndex: 'changed_by' },
    { title: t('admin.reason'), dataIndex: 'reason' },
  ];
  return (
    <Row gutter={[12, 12]}>
      <Col xs={24} lg={10}>
        <Card size="small" title={t('admin.rateTitle')} loading={!rate.data && !rate.error}>
          <ErrorAlert error={rate.error} />
          {rate.data && (
            <Typography.Text strong style={{ fontSize: 20 }} data-testid="current-rate">
              {t('admin.currentRate', { rate: formatExact(rate.data.credits_per_usd) })}
            </Typography.Text>
          )}
          <RateForm />
        </Card>
      </Col>
      <Col xs={24} lg={14}>
        <Card size="small" title={t('admin.rateHistory')}>
          <DataTable<RateChange>
            rowKey="id"
            columns={columns}
            dataSource={rate.data?.history}
            loading={!rate.data && !rate.error}
            rowTestId="rate-history-row"
            pagination={{ pageSize: 20, hideOnSinglePage: true }}
          />
        </Card>
      </Col>
    </Row>
  );
}

function RateForm() {
  const { t } = useTranslation();
  const [form] = Form.useForm<RateValues>();
  const [done, setDone] = useState<string | null>(null);
  const submit = useAdminAction((v: RateValues) => api.adminSetRate(v.rate.trim(), v.reason.trim()));

  const finish = async (values: RateValues) => {
    setDone(null);
    const change = await submit.run(values);
    if (!change) return;
    setDone(t('admin.rateDone', { old: change.old_rate === null ? t('common.none') : formatExact(change.old_rate), new: formatExact(change.new_rate) }));
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
