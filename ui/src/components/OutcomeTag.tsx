import { Tag } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Outcome } from '../api';

const COLORS: Record<Outcome, string> = {
  charged: 'green',
  duplicate: 'default',
  conflict: 'orange',
  held: 'gold',
  rejected: 'red',
};

const isOutcome = (o: string): o is Outcome => o in COLORS;

export function OutcomeTag({ outcome }: { outcome: string }) {
  const { t } = useTranslation();
  // An outcome this UI does not know yet is still shown, untranslated.
  return isOutcome(outcome) ? <Tag color={COLORS[outcome]}>{t(`outcomes.${outcome}`)}</Tag> : <Tag>{outcome}</Tag>;
}
