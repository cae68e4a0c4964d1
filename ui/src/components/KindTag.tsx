import { Tag } from 'antd';
import { useTranslation } from 'react-i18next';
import type { EntryKind } from '../api';

const COLORS: Record<EntryKind, string> = {
  charge: 'default',
  grant: 'green',
  topup: 'green',
  adjustment: 'blue',
  reversal: 'orange',
};

export function KindTag({ kind }: { kind: EntryKind }) {
  const { t } = useTranslation();
  return <Tag color={COLORS[kind]}>{t(`kinds.${kind}`)}</Tag>;
}
