import { Descriptions, Space, Tag, Typography, type DescriptionsProps } from 'antd';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import type { Entry, Usage } from '../api';
import { formatCount, formatCredits, formatDecimal, formatMicros, formatTime } from '../format';
import { EntryKindTags } from './KindTag';

type Items = NonNullable<DescriptionsProps['items']>;

/**
 * How one ledger entry came about. For a charge, the computation is spelled out with the price and rate
 * snapshot stored on the entry and the stored results: nothing is recomputed here, so what is shown is what
 * the ledger charged, even if prices changed since.
 */
export function ChargeDetail({ entry }: { entry: Entry }) {
  const { t } = useTranslation();
  const { usage } = entry;
  const items: Items = [
    { key: 'time', label: t('dashboard.col.time'), children: formatTime(entry.created_at) },
    { key: 'kind', label: t('dashboard.col.kind'), children: <EntryKindTags entry={entry} /> },
    { key: 'amount', label: t('dashboard.col.credits'), children: formatCredits(entry.amount, { signed: true }) },
    ...(usage ? usageItems(t, usage) : []),
    { key: 'actor', label: t('detail.actor'), children: entry.actor },
    ...(entry.reason ? [{ key: 'note', label: t('dashboard.col.note'), children: entry.reason }] : []),
    { key: 'id', label: t('detail.entryId'), children: <Typography.Text copyable>{entry.id}</Typography.Text> },
  ];
  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }} data-testid="charge-detail">
      <Descriptions size="small" bordered column={1} items={items} />
      {usage && <Descriptions size="small" bordered column={1} title={t('detail.computation')} items={computationItems(t, usage, -BigInt(entry.amount_micros))} />}
    </Space>
  );
}

function usageItems(t: TFunction, usage: Usage): Items {
  return [
    { key: 'app', label: t('dashboard.col.app'), children: usage.app_name },
    { key: 'model', label: t('dashboard.col.model'), children: usage.pricing === 'dify_price' ? t('dashboard.difyPrice') : usage.model },
    { key: 'in', label: t('dashboard.inputTokens'), children: formatCount(usage.prompt_tokens) },
    {
      key: 'out',
      label: t('dashboard.outputTokens'),
      children: (
        <Space size={4}>
          {formatCount(usage.completion_tokens)}
          {usage.estimated && <Tag color="gold">{t('dashboard.estimated')}</Tag>}
        </Space>
      ),
    },
    { key: 'message', label: t('detail.messageId'), children: usage.message_id },
    { key: 'conversation', label: t('detail.conversationId'), children: usage.conversation_id ?? t('common.none') },
  ];
}

function computationItems(t: TFunction, usage: Usage, micros: bigint): Items {
  const x = formatDecimal;
  const rate = x(usage.credits_per_usd);
  const result = `${formatMicros(micros)} ${t('common.credits')}`;
  const dify = usage.dify_total_price === null ? null : x(usage.dify_total_price);
  const lines =
    usage.pricing === 'model' && usage.price
      ? [
          `${formatCount(usage.prompt_tokens)} / 1000 × ${x(usage.price.input_per_1k)} + ` +
            `${formatCount(usage.completion_tokens)} / 1000 × ${x(usage.price.output_per_1k)} = ${x(usage.usd_cost)} USD`,
          `${x(usage.usd_cost)} USD × ${rate} = ${result}`,
        ]
      : [`${dify ?? t('common.none')} USD × ${rate} = ${result}`];
  return [
    {
      key: 'formula',
      label: t('detail.formula'),
      children: lines.map((line) => (
        <div key={line} data-testid="charge-formula">
          <Typography.Text code>{line}</Typography.Text>
        </div>
      )),
    },
    {
      key: 'dify',
      label: t('detail.difyPrice'),
      children: dify === null ? t('common.none') : `${dify} ${usage.dify_currency ?? ''}`.trim(),
    },
  ];
}
