import { Space, Tag, Tooltip } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Entry } from '../api';
import type { EntryKind } from '../bindings/org';

/** Every kind of entry, the org server's included: a desktop ledger has only some of them. */
const COLORS: Record<EntryKind, string> = {
  charge: 'default',
  grant: 'green',
  topup: 'green',
  adjustment: 'blue',
  reversal: 'orange',
  redemption: 'cyan',
  true_up: 'gold',
  reported_by_dify: 'purple',
};

export function KindTag({ kind }: { kind: EntryKind }) {
  const { t } = useTranslation();
  return <Tag color={COLORS[kind]}>{t(`kinds.${kind}`)}</Tag>;
}

/** An entry's kind and, on a side call's charge, which call Dify made beside the reply: it has no reply of its own to tell it by. */
export function EntryKindTags({ entry }: { entry: Entry }) {
  const { t } = useTranslation();
  const sideCall = entry.usage?.side_call;
  return (
    <Space size={4}>
      <KindTag kind={entry.kind} />
      {sideCall && (
        <Tooltip title={t('dashboard.sideCallHint')}>
          <Tag color="purple" data-testid="side-call-tag">
            {t(`sideCalls.${sideCall}`)}
          </Tag>
        </Tooltip>
      )}
    </Space>
  );
}
