import { Layout, Space, Typography } from 'antd';
import type { ReactNode } from 'react';
import { LanguageSwitch } from './LanguageSwitch';

/** The frame every local window shares: a title bar with actions and the language switch, then dense content. */
export function Page({ title, extra, children }: { title: ReactNode; extra?: ReactNode; children: ReactNode }) {
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Content style={{ padding: 12 }}>
        <Space direction="vertical" size={12} style={{ width: '100%' }}>
          <Space style={{ width: '100%', justifyContent: 'space-between' }} wrap>
            <Typography.Title level={4} style={{ margin: 0 }}>
              {title}
            </Typography.Title>
            <Space wrap>
              {extra}
              <LanguageSwitch />
            </Space>
          </Space>
          {children}
        </Space>
      </Layout.Content>
    </Layout>
  );
}
