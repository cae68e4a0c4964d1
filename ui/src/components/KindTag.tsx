import { Space, Tag, Tooltip } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Entry, EntryKind } from '../api';

const COLORS: Record<EntryKind, string> = {
  charge: 'default',
  grant: 'green',
  topup: 'green',
  adjustment: 'blue',
  reversal: 'orange',
};

function KindTag({ kind }: { kind: EntryKind }) {
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
