import { Alert, Button, Form, Input, Modal, Typography } from 'antd';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type SyncStatus } from '../api';
import { hasCode } from '../errors';
import { formatMicros } from '../format';
import { useAction } from '../hooks';
import { FormFooter } from './admin/shared';

/** A code from the org admin, redeemed on the server for credits on this user's balance; enrolled devices only. */
export function RedeemCode({ sync, onRedeemed }: { sync: SyncStatus | null | undefined; onRedeemed: () => void }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  if (!sync?.enrolled || sync.revoked) return null;
  return (
    <>
      <Button onClick={() => setOpen(true)} data-testid="redeem-open">
        {t('redeem.open')}
      </Button>
      <Modal open={open} title={t('redeem.open')} footer={null} onCancel={() => setOpen(false)} destroyOnHidden>
        <RedeemForm onRedeemed={onRedeemed} />
      </Modal>
    </>
  );
}

function RedeemForm({ onRedeemed }: { onRedeemed: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ code: string }>();
  const [done, setDone] = useState<string | null>(null);
  const redeem = useAction(useCallback((code: string) => api.redeemCode(code), []));
  const finish = async ({ code }: { code: string }) => {
    setDone(null);
    const redeemed = await redeem.run(code.trim());
    if (!redeemed) return;
    setDone(t('redeem.done', { amount: formatMicros(redeemed.amount_micros), balance: formatMicros(redeemed.balance_micros) }));
    form.resetFields();
    onRedeemed();
  };
  // Offline is said whole: the code is still good, only the server is out of reach.
  const offline = hasCode(redeem.error, 'unreachable');
  return (
    <Form form={form} layout="vertical" requiredMark={false} onFinish={finish}>
      <Typography.Paragraph type="secondary">{t('redeem.hint')}</Typography.Paragraph>
      <Form.Item name="code" label={t('redeem.code')} rules={[{ required: true, whitespace: true, message: t('admin.required') }]}>
        <Input autoFocus autoComplete="off" spellCheck={false} data-testid="redeem-code" />
      </Form.Item>
      {offline && <Alert type="error" showIcon role="alert" message={t('redeem.offline')} style={{ marginBottom: 8 }} />}
      <FormFooter busy={redeem.busy} error={offline ? null : redeem.error} done={done} label={t('redeem.submit')} testId="redeem-submit" />
    </Form>
  );
}
