import { Card, Form, Input } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type AdminStatus } from '../../api';
import { FormFooter, passwordRules, useAdminAction, useRequired } from './shared';

interface PasswordValues {
  current: string;
  next: string;
  confirm: string;
}

/** Changes the admin password; Rust answers with a fresh session. */
export function PasswordTab({ onStatus }: { onStatus: (status: AdminStatus) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<PasswordValues>();
  const [done, setDone] = useState<string | null>(null);
  const change = useAdminAction((v: PasswordValues) => api.adminChangePassword(v.current, v.next));
  const rules = passwordRules(t, 'next');

  const finish = async (values: PasswordValues) => {
    setDone(null);
    const status = await change.run(values);
    if (!status) return;
    form.resetFields();
    setDone(t('admin.password.done'));
    onStatus(status);
  };

  return (
    <Card size="small" title={t('admin.password.title')} style={{ maxWidth: 420 }}>
      <Form form={form} layout="vertical" requiredMark={false} onFinish={finish}>
        <Form.Item name="current" label={t('admin.password.current')} rules={[useRequired()]}>
          <Input.Password autoComplete="current-password" data-testid="password-current" />
        </Form.Item>
        <Form.Item name="next" label={t('admin.password.new')} rules={rules.password}>
          <Input.Password autoComplete="new-password" data-testid="password-new" />
        </Form.Item>
        <Form.Item name="confirm" label={t('admin.confirm')} dependencies={['next']} rules={rules.confirm}>
          <Input.Password autoComplete="new-password" data-testid="password-confirm" />
        </Form.Item>
        <FormFooter busy={change.busy} error={change.error} done={done} label={t('admin.password.submit')} testId="password-submit" />
      </Form>
    </Card>
  );
}
