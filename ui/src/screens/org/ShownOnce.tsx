import { Alert, Button, Modal, Space } from 'antd';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

interface ShownOnceProps {
  open: boolean;
  title: ReactNode;
  /** Why this is shown once (the server keeps only a hash), and until when it works. */
  warning: ReactNode;
  description?: ReactNode;
  onClose: () => void;
  doneTestId: string;
  width?: number;
  children: ReactNode;
}

/** Secrets the server shows this once and then keeps only as hashes: enrollment codes, redemption codes. */
export function ShownOnceModal({ open, title, warning, description, onClose, doneTestId, width, children }: ShownOnceProps) {
  const { t } = useTranslation();
  return (
    <Modal
      open={open}
      width={width}
      title={title}
      onCancel={onClose}
      footer={<Button onClick={onClose} data-testid={doneTestId}>{t('orgAdmin.done')}</Button>}
      destroyOnHidden
    >
      {open && (
        <Space direction="vertical" style={{ width: '100%' }}>
          <Alert type="warning" showIcon message={warning} description={description} />
          {children}
        </Space>
      )}
    </Modal>
  );
}
