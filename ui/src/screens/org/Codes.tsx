import { Card, Col, Form, Input, InputNumber, Row, Space, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { DataTable } from '../../components/DataTable';
import { RefreshCard } from '../../components/RefreshCard';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatMicros, formatTime } from '../../format';
import { orgApi, type CodeBatch, type RedemptionCode } from '../../orgApi';
import { CREDITS, decimalRule, FormFooter, ReasonItem, useAdminAction, useRequired } from '../admin/shared';
import { useOrgLoad } from './shared';
import { ShownOnceModal } from './ShownOnce';

const MAX_CODES = 1000;

type CodeStatus = 'unused' | 'redeemed' | 'expired';

function statusOf(code: RedemptionCode, now: number): CodeStatus {
  if (code.redeemed_by) return 'redeemed';
  return code.expires_at && Date.parse(code.expires_at) <= now ? 'expired' : 'unused';
}

const STATUS_COLORS: Record<CodeStatus, string> = { unused: 'blue', redeemed: 'green', expired: 'default' };

/**
 * Redemption codes: batches of single-use codes, each worth credits to whoever redeems it on their desktop.
 * The codes are shown once when made (the server keeps their hashes); the list shows what became of each.
 */
export function CodesTab() {
  const { t } = useTranslation();
  const codes = useOrgLoad(orgApi.redemptionCodes);
  const [batch, setBatch] = useState<CodeBatch | null>(null);
  const now = Date.now();

  const columns: ColumnsType<RedemptionCode> = [
    { title: t('admin.col.created'), dataIndex: 'created_at', render: (v: string) => formatTime(v), width: 160 },
    { title: t('admin.amount'), dataIndex: 'amount_micros', align: 'right', render: (m: number) => formatMicros(m) },
    { title: t('admin.reason'), dataIndex: 'reason' },
    { title: t('admin.col.by'), dataIndex: 'created_by' },
    {
      title: t('orgAdmin.codes.batch'),
      dataIndex: 'batch_id',
      render: (id: string) => (
        <Tooltip title={id}>
          <Typography.Text code>{id.slice(-8)}</Typography.Text>
        </Tooltip>
      ),
    },
    { title: t('orgAdmin.codes.expires'), dataIndex: 'expires_at', render: (v: string | null) => (v ? formatTime(v) : t('orgAdmin.codes.never')) },
    {
      title: t('admin.held.status'),
      key: 'status',
      render: (_, c) => {
        const status = statusOf(c, now);
        return (
          <Space size={4} wrap>
            <Tag color={STATUS_COLORS[status]}>{t(`orgAdmin.codes.statuses.${status}`)}</Tag>
            {c.redeemed_by && c.redeemed_at && (
              <Typography.Text type="secondary">{t('orgAdmin.codes.redeemedBy', { user: c.redeemed_by, time: formatTime(c.redeemed_at) })}</Typography.Text>
            )}
          </Space>
        );
      },
    },
  ];

  return (
    <Row gutter={[12, 12]}>
      <Col xs={24} xl={16}>
        <RefreshCard title={t('orgAdmin.codes.title')} onRefresh={() => void codes.reload()}>
          <ErrorAlert error={codes.error} />
          <DataTable<RedemptionCode>
            rowKey="id"
            columns={columns}
            dataSource={codes.data ?? undefined}
            loading={!codes.data && !codes.error}
            rowTestId="code-row"
            rowAttrs={(c) => ({ 'data-code-id': c.id, 'data-status': statusOf(c, now) })}
            pagination={{ pageSize: 50, hideOnSinglePage: true }}
            locale={{ emptyText: t('orgAdmin.codes.empty') }}
          />
        </RefreshCard>
      </Col>
      <Col xs={24} xl={8}>
        <NewCodesForm
          onMade={(made) => {
            setBatch(made);
            void codes.reload();
          }}
        />
      </Col>
      <BatchModal batch={batch} onClose={() => setBatch(null)} />
    </Row>
  );
}

interface NewCodesValues {
  count: number;
  amount: string;
  reason: string;
  valid_days?: number | null;
}

function NewCodesForm({ onMade }: { onMade: (batch: CodeBatch) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<NewCodesValues>();
  const required = useRequired();
  const submit = useAdminAction((v: NewCodesValues) =>
    orgApi.createCodes({ count: v.count, amount: v.amount.trim(), reason: v.reason.trim(), validDays: v.valid_days ?? null }),
  );
  const finish = async (values: NewCodesValues) => {
    const made = await submit.run(values);
    if (!made) return;
    form.resetFields();
    onMade(made);
  };
  const whole = (max?: number) => ({
    type: 'integer' as const,
    min: 1,
    max,
    message: max ? t('orgAdmin.codes.countInvalid', { max: MAX_CODES }) : t('orgAdmin.codes.daysInvalid'),
  });
  return (
    <Card size="small" title={t('orgAdmin.codes.make')}>
      <Form form={form} layout="vertical" requiredMark={false} onFinish={finish} initialValues={{ count: 1 }}>
        <Form.Item name="count" label={t('orgAdmin.codes.count')} rules={[{ required: true, message: t('admin.required') }, whole(MAX_CODES)]}>
          <InputNumber min={1} max={MAX_CODES} precision={0} style={{ width: '100%' }} data-testid="codes-count" />
        </Form.Item>
        <Form.Item name="amount" label={t('orgAdmin.codes.amount')} rules={[required, decimalRule(CREDITS, t('admin.amountInvalid'))]}>
          <Input inputMode="decimal" addonAfter={t('common.credits')} data-testid="codes-amount" />
        </Form.Item>
        <ReasonItem testId="codes-reason" />
        <Form.Item name="valid_days" label={t('orgAdmin.codes.validDays')} extra={t('orgAdmin.codes.validDaysHint')} rules={[whole()]}>
          <InputNumber min={1} precision={0} style={{ width: '100%' }} data-testid="codes-valid-days" />
        </Form.Item>
        <FormFooter busy={submit.busy} error={submit.error} label={t('orgAdmin.codes.submit')} testId="codes-submit" />
      </Form>
    </Card>
  );
}

/** The new codes, this once: the server keeps only their hashes. The shell has saved their CSV already. */
function BatchModal({ batch, onClose }: { batch: CodeBatch | null; onClose: () => void }) {
  const { t } = useTranslation();
  const all = batch?.codes.map((c) => c.code).join('\n') ?? '';
  return (
    <ShownOnceModal
      open={batch !== null}
      width={560}
      title={batch && t('orgAdmin.codes.madeTitle', { count: batch.codes.length, amount: formatMicros(batch.amount_micros) })}
      warning={t('orgAdmin.codes.once')}
      description={batch?.expires_at ? t('orgAdmin.codes.until', { time: formatTime(batch.expires_at) }) : t('orgAdmin.codes.noExpiry')}
      onClose={onClose}
      doneTestId="codes-done"
    >
      <Typography.Paragraph code style={{ whiteSpace: 'pre-wrap', maxHeight: 240, overflowY: 'auto' }} data-testid="new-codes">
        {all}
      </Typography.Paragraph>
      <Typography.Text copyable={{ text: all, tooltips: [t('orgAdmin.codes.copyAll'), t('orgAdmin.codes.copied')] }}>{t('orgAdmin.codes.copyAll')}</Typography.Text>
      <Typography.Text type="secondary">{t('orgAdmin.codes.csv')}</Typography.Text>
      <Typography.Text code copyable style={{ wordBreak: 'break-all' }} data-testid="codes-csv-path">
        {batch?.csv_path}
      </Typography.Text>
    </ShownOnceModal>
  );
}
