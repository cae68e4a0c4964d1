import { act, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { emit } from '@tauri-apps/api/event';
import i18n, { initialLanguage, pickLanguage } from './i18n';
import en from './locales/en';
import zh from './locales/zh';
import { fakeBackend, page, reject } from './test/backend';
import { renderWindow } from './test/render';
import { user } from './test/user';

/** Every key path of a message tree, e.g. `dashboard.col.time`. */
const keys = (tree: object, prefix = ''): string[] =>
  Object.entries(tree).flatMap(([k, v]) => (typeof v === 'string' ? [prefix + k] : keys(v, `${prefix}${k}.`)));

describe('language', () => {
  it('follows the OS: any Chinese tag is Simplified Chinese, anything else English', () => {
    expect(['zh-CN', 'zh-TW', 'zh', 'ZH-hk'].map(pickLanguage)).toEqual(['zh', 'zh', 'zh', 'zh']);
    expect(['en-US', 'fr-FR', 'ja', undefined].map(pickLanguage)).toEqual(['en', 'en', 'en', 'en']);
  });

  it("takes the language from the desktop shell over the webview's navigator.language", () => {
    expect(navigator.language).toMatch(/^en/);
    try {
      window.__TOKENDESK_LANGUAGE__ = 'zh';
      expect(initialLanguage()).toBe('zh');
      window.__TOKENDESK_LANGUAGE__ = 'en';
      expect(initialLanguage()).toBe('en');
      // No shell, or a value it never sends: the webview's guess is all there is.
      window.__TOKENDESK_LANGUAGE__ = 'klingon';
      expect(initialLanguage()).toBe('en');
      window.__TOKENDESK_LANGUAGE__ = null;
      expect(initialLanguage()).toBe('en');
    } finally {
      delete window.__TOKENDESK_LANGUAGE__;
    }
  });

  it('has every string in both languages, none left empty', () => {
    expect(keys(zh)).toEqual(keys(en));
    expect(keys(zh).filter((k) => !i18n.getFixedT('zh')(k as never))).toEqual([]);
  });

  it('renders the dashboard in Simplified Chinese, antd included', async () => {
    await i18n.changeLanguage(pickLanguage('zh-CN'));
    fakeBackend({ history: () => page([]) });
    renderWindow('dashboard');

    expect(await screen.findByText('余额')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: '打开对话' })).toBeInTheDocument();
    expect(await screen.findByText('今日')).toBeInTheDocument();
    expect(await screen.findAllByText('暂无数据', { selector: '.ant-empty-description' })).not.toHaveLength(0); // antd's own zh_CN
    await waitFor(() => expect(screen.getByTestId('monitor-status')).toHaveTextContent('对话已连接'));
    expect(document.documentElement.lang).toBe('zh-CN');
    expect(screen.queryByText('Balance')).toBeNull();
  });

  it('renders the dashboard in English, antd included', async () => {
    fakeBackend({ history: () => page([]) });
    renderWindow('dashboard');

    expect(await screen.findByText('Balance')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Open chat' })).toBeInTheDocument();
    expect(await screen.findByText('No data', { selector: '.ant-empty-description' })).toBeInTheDocument();
    expect(document.documentElement.lang).toBe('en');
    expect(screen.queryByText('余额')).toBeNull();
  });

  it('switches by hand and has the shell keep the choice, and follows a switch made in another window', async () => {
    const backend = fakeBackend({ history: () => page([]) });
    renderWindow('admin');
    expect(await screen.findByText('Admin login')).toBeInTheDocument();

    await user.click(screen.getByText('中文'));
    expect(await screen.findByText('管理员登录')).toBeInTheDocument();
    expect(document.documentElement.lang).toBe('zh-CN');
    // The shell keeps it for the next start, and tells the menus, the tray and the other windows.
    expect(backend.argsOf('set_language')).toEqual([{ language: 'zh' }]);

    // Another window switched back: the shell's event carries it here.
    await act(() => emit('language', 'en'));
    expect(await screen.findByText('Admin login')).toBeInTheDocument();
  });

  it('says so when the shell could not keep the choice, and still switches this window', async () => {
    fakeBackend({ history: () => page([]), set_language: () => reject('preference', 'cannot keep the language choice: disk full') });
    renderWindow('admin');
    await user.click(await screen.findByText('中文'));
    expect(await screen.findByText('管理员登录')).toBeInTheDocument();
    expect(await screen.findByText(/disk full/)).toBeInTheDocument();
  });

  it('shows the integration-off page in both languages, the user’s first, calling no command', async () => {
    const backend = fakeBackend();
    renderWindow('chat');
    expect(await screen.findByText('Metering is off', { selector: '.ant-result-title' })).toBeInTheDocument();
    expect(screen.getByText(/计量已关闭 · Dify 集成已关闭/)).toBeInTheDocument();
    expect(screen.getByText(/nothing you do here is charged/)).toBeInTheDocument();
    // The chat window has no local capability: a command from it would be refused.
    expect(backend.calls).toEqual([]);
  });

  it('says so when the org has no Dify app yet', async () => {
    fakeBackend();
    window.__TOKENDESK_CHAT__ = 'no-app';
    try {
      renderWindow('chat');
      expect(await screen.findByTestId('integration-off')).toHaveAttribute('data-reason', 'noApp');
      expect(screen.getByText('No Dify app yet', { selector: '.ant-result-title' })).toBeInTheDocument();
      expect(screen.getByText(/还没有 Dify 应用 · 还没有为您设置 Dify 应用/)).toBeInTheDocument();
    } finally {
      delete window.__TOKENDESK_CHAT__;
    }
  });
});
