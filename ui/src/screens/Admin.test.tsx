import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { formatTime } from '../format';
import i18n from '../i18n';
import { fakeBackend, reject, session } from '../test/backend';
import { openAdminTab, renderWindow, typeInto } from '../test/render';
import { user } from '../test/user';

describe('admin window', () => {
  it('sets the first password: at least 8 characters, typed twice, then opens a session', async () => {
    const backend = fakeBackend({
      admin_status: () => ({ password_set: false, session_expires_at: null }),
      admin_set_password: () => session(),
    });
    renderWindow('admin');
    expect(await screen.findByText('Set the admin password', { selector: '.ant-card-head-title' })).toBeInTheDocument();

    await typeInto('admin-password', 'short');
    await typeInto('admin-password-confirm', 'short');
    await user.click(screen.getByTestId('admin-submit'));
    expect(await screen.findByText('At least 8 characters')).toBeInTheDocument();

    await typeInto('admin-password', '-and-long');
    await user.click(screen.getByTestId('admin-submit'));
    expect(await screen.findByText('The passwords do not match')).toBeInTheDocument();
    expect(backend.argsOf('admin_set_password')).toEqual([]);

    await typeInto('admin-password-confirm', '-and-long');
    await user.click(screen.getByTestId('admin-submit'));
    expect(await screen.findByTestId('models-table')).toBeInTheDocument();
    expect(backend.argsOf('admin_set_password')).toEqual([{ password: 'short-and-long' }]);
    expect(screen.getByTestId('admin-session')).toHaveTextContent('Session expires at');
  });

  it('shows the error for a wrong password and stays on the login form', async () => {
    const backend = fakeBackend({ admin_login: () => reject('wrong_password', 'wrong password') });
    renderWindow('admin');

    await typeInto('admin-password', 'not-the-password');
    await user.keyboard('{Enter}');
    expect(await screen.findByTestId('admin-error')).toHaveTextContent('Wrong password.');
    expect(backend.argsOf('admin_login')).toEqual([{ password: 'not-the-password' }]);
    expect(screen.queryByTestId('admin-tab-models')).toBeNull();

    backend.on('admin_login', () => session());
    await user.click(screen.getByTestId('admin-submit'));
    expect(await screen.findByTestId('models-table')).toBeInTheDocument();
    expect(screen.queryByTestId('admin-error')).toBeNull();
  });

  it('returns to the login form when a command finds the session gone', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_set_rate: () => reject('admin_session_required', 'no session'),
    });
    renderWindow('admin');
    await openAdminTab('rate');
    await typeInto('rate-input', '900');
    await typeInto('rate-reason', 'cheaper');
    backend.on('admin_status', () => ({ password_set: true, session_expires_at: null }));
    await user.click(screen.getByTestId('rate-submit'));

    expect(await screen.findByText('Admin login', { selector: '.ant-card-head-title' })).toBeInTheDocument();
    expect(screen.queryByTestId('rate-input')).toBeNull();
  });

  it('logs out', async () => {
    const backend = fakeBackend({ admin_status: () => session(), admin_logout: () => null });
    renderWindow('admin');
    const logout = await screen.findByTestId('admin-logout');
    backend.on('admin_status', () => ({ password_set: true, session_expires_at: null }));
    await user.click(logout);
    expect(await screen.findByTestId('admin-submit')).toHaveTextContent('Log in');
    expect(backend.argsOf('admin_logout')).toHaveLength(1);
  });

  it('changes the admin password: the new one twice, the current one checked by Rust', async () => {
    const renewed = session(60);
    const backend = fakeBackend({ admin_status: () => session(), admin_change_password: () => reject('wrong_password') });
    renderWindow('admin');
    await openAdminTab('password');

    await typeInto('password-current', 'old-password');
    await typeInto('password-new', 'new-password-1');
    await typeInto('password-confirm', 'new-password-2');
    await user.click(screen.getByTestId('password-submit'));
    expect(await screen.findByText('The passwords do not match')).toBeInTheDocument();
    expect(backend.argsOf('admin_change_password')).toEqual([]);

    await user.clear(screen.getByTestId('password-confirm'));
    await typeInto('password-confirm', 'new-password-1');
    await user.click(screen.getByTestId('password-submit'));
    expect(await screen.findByText('Wrong password.')).toBeInTheDocument();

    backend.on('admin_change_password', () => renewed);
    await user.click(screen.getByTestId('password-submit'));
    expect(await screen.findByText('Password changed.')).toBeInTheDocument();
    expect(backend.argsOf('admin_change_password').at(-1)).toEqual({ current: 'old-password', next: 'new-password-1' });
    expect(screen.getByTestId('password-current')).toHaveValue('');
    // The answer is a fresh session: its expiry is shown.
    expect(screen.getByTestId('admin-session')).toHaveTextContent(formatTime(renewed.session_expires_at!));
  });

  it('speaks Simplified Chinese', async () => {
    await i18n.changeLanguage('zh');
    fakeBackend({ admin_status: () => session() });
    renderWindow('admin');
    expect(await screen.findByTestId('admin-tab-held')).toHaveTextContent('待审核事件');
    expect(await screen.findByText('改价', { selector: '[data-testid="model-edit-gpt-4o"] *' })).toBeInTheDocument();
    expect(screen.getByText('待确认')).toBeInTheDocument(); // gpt-4o-mini needs review
    await openAdminTab('held');
    expect(await screen.findByText('超过上限')).toBeInTheDocument();
    expect(screen.getByText('未定价')).toBeInTheDocument();
  });
});
