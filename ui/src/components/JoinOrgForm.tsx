import { App as AntApp, Button, Form, Input } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import { useAction } from '../hooks';
import { ErrorAlert } from './ErrorAlert';

/** Whether this is a whole join link (`tokendesk://join?server=…&code=…`), which carries the server too; Rust
 * parses it again. */
function isJoinLink(text: string): boolean {
  try {
    const url = new URL(text.trim());
    return url.protocol === 'tokendesk:' && url.host === 'join' && !!url.searchParams.get('server')?.trim() && !!url.searchParams.get('code')?.trim();
  } catch {
    return false;
  }
}

/** The server address and the enrollment code (or a join link), then the shell enrolls this computer. */
export function JoinOrgForm({ suggestedServer, onJoined }: { suggestedServer: string | null; onJoined?: () => void }) {
  const { t } = useTranslation();
  const { message } = AntApp.useApp();
  const [server, setServer] = useState(suggestedServer ?? '');
  const [code, setCode] = useState('');
  const [missing, setMissing] = useState<string | null>(null);
  const joining = useAction(api.joinOrg);
  const isLink = isJoinLink(code);

  const submit = async () => {
    const problem = !code.trim() ? t('join.needCode') : !isLink && !server.trim() ? t('join.needServer') : null;
    setMissing(problem);
    if (problem) return;
    const status = await joining.run(server.trim(), code.trim());
    if (status) {
      message.success(t('join.joined', { org: status.org ?? '', user: status.user ?? '' }));
      onJoined?.();
    }
  };

  return (
    <Form layout="vertical" onFinish={() => void submit()} data-testid="join-form">
      <Form.Item label={t('join.server')}>
        <Input
          value={server}
          disabled={isLink}
          placeholder={t('join.serverPlaceholder')}
          onChange={(e) => setServer(e.target.value)}
          data-testid="join-server"
        />
      </Form.Item>
      <Form.Item label={t('join.code')} validateStatus={missing ? 'error' : undefined} help={missing}>
        <Input
          value={code}
          placeholder={t('join.codePlaceholder')}
          onChange={(e) => setCode(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          data-testid="join-code"
        />
      </Form.Item>
      <ErrorAlert error={joining.error} />
      <Button type="primary" htmlType="submit" loading={joining.busy} data-testid="join-submit">
        {t('join.submit')}
      </Button>
    </Form>
  );
}
