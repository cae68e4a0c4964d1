// A user's own daily and monthly budgets: shown against what they spent, and set in a modal.
import { Form, Input, Radio, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { formatMicros, microsText } from '../../format';
import { orgApi, type UserBudget, type UserSummary } from '../../orgApi';
import { CREDITS, decimalRule, FormModal, useRequired } from '../admin/shared';

type Period = 'daily' | 'monthly';
/** The org policy's budget, none at all, or the user's own amount. */
type BudgetMode = 'org' | 'none' | 'own';
const MODES: BudgetMode[] = ['org', 'none', 'own'];

type BudgetValues = Record<`${Period}_mode`, BudgetMode> & Partial<Record<Period, string>>;

const modeOf = (micros: number | null): BudgetMode => (micros === null ? 'org' : micros === 0 ? 'none' : 'own');

function formOf(u: UserSummary): BudgetValues {
  const own = (micros: number | null) => (micros ? microsText(micros) : undefined);
  return {
    daily_mode: modeOf(u.daily_budget_micros),
    daily: own(u.daily_budget_micros),
    monthly_mode: modeOf(u.monthly_budget_micros),
    monthly: own(u.monthly_budget_micros),
  };
}

/** What the server takes: null follows the org policy, "0" is no budget, else the credits as typed. */
function budgetOf(v: BudgetValues): UserBudget {
  const one = (period: Period) => ({ org: null, none: '0', own: v[period]?.trim() ?? '' })[v[`${period}_mode`]];
  return { daily: one('daily'), monthly: one('monthly') };
}

/** Spent against the budget: the user's own, the org's default, or none. */
export function BudgetSpend({ spent, budget, testId }: { spent: number; budget: number | null; testId: string }) {
  const { t } = useTranslation();
  const limit = budget === null ? t('orgAdmin.budget.orgDefault') : budget === 0 ? t('orgAdmin.budget.none') : formatMicros(budget);
  return (
    <Typography.Text type={budget && spent >= budget ? 'danger' : undefined} data-testid={testId}>
      {formatMicros(spent)} / {limit}
    </Typography.Text>
  );
}

/** Sets both of a user's budgets; `user` null: closed. */
export function BudgetModal({ user, onClose, onSaved }: { user: UserSummary | null; onClose: () => void; onSaved: () => void }) {
  const { t } = useTranslation();
  const save = async (values: BudgetValues) => {
    const saved = await orgApi.setBudget(user!.user.name, budgetOf(values));
    onSaved();
    return saved;
  };
  return (
    <FormModal<BudgetValues>
      title={t('orgAdmin.budget.title', { user: user?.user.name })}
      initialValues={user && formOf(user)}
      onClose={onClose}
      submit={save}
      doneMessage={t('orgAdmin.budget.saved')}
      submitLabel={t('common.save')}
      submitTestId="budget-save"
    >
      <Typography.Paragraph type="secondary">{t('orgAdmin.budget.hint')}</Typography.Paragraph>
      <BudgetItems period="daily" />
      <BudgetItems period="monthly" />
    </FormModal>
  );
}

function BudgetItems({ period }: { period: Period }) {
  const { t } = useTranslation();
  const required = useRequired();
  const mode = Form.useWatch<BudgetMode | undefined>(`${period}_mode`, Form.useFormInstance());
  return (
    <>
      <Form.Item name={`${period}_mode`} label={t(`orgAdmin.budget.${period}`)} style={mode === 'own' ? { marginBottom: 8 } : undefined}>
        <Radio.Group
          optionType="button"
          options={MODES.map((m) => ({ value: m, label: t(`orgAdmin.budget.modes.${m}`) }))}
          data-testid={`budget-${period}-mode`}
        />
      </Form.Item>
      {mode === 'own' && (
        <Form.Item name={period} rules={[required, decimalRule(CREDITS, t('admin.amountInvalid'))]}>
          <Input inputMode="decimal" addonAfter={t('common.credits')} aria-label={t(`orgAdmin.budget.${period}`)} data-testid={`budget-${period}`} />
        </Form.Item>
      )}
    </>
  );
}
