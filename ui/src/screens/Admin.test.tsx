import { render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from '../App';
import { charge, fakeBackend, reject, session } from '../test/backend';
import { user } from '../test/user';

const type = async (testId: string, text: string) => user.type(await screen.findByTestId(testId), text);

describe('admin window', () => {
  it('sets the first password: at least 8 characters, typed twice, then opens a session', async () => {
    const backend = fakeBackend({
      admin_status: () => ({ password_set: false, session_expires_at: null }),
      admin_set_password: () => session(),
    });
    render(<App name="admin" />);
    expect(await screen.findByText('Set the admin password', { selector: '.ant-card-head-title' })).toBeInTheDocument();

    await type('admin-password', 'short');
    await type('admin-password-confirm', 'short');
    await user.click(screen.getByTestId('admin-submit'));
    expect(await screen.findByText('At least 8 characters')).toBeInTheDocument();

    await type('admin-password', '-and-long');
    await user.click(screen.getByTestId('admin-submit'));
    expect(await screen.findByText('The passwords do not match')).toBeInTheDocument();
    expect(backend.argsOf('admin_set_password')).toEqual([]);

    await type('admin-password-confirm', '-and-long');
    await user.click(screen.getByTestId('admin-submit'));
    expect(await screen.findByTestId('rate-input')).toBeInTheDocument();
    expect(backend.argsOf('admin_set_password')).toEqual([{ password: 'short-and-long' }]);
    expect(screen.getByTestId('admin-session')).toHaveTextContent('Session expires at');
  });

  it('shows the error for a wrong password and stays on the login form', async () => {
    const backend = fakeBackend({ admin_login: () => reject('wrong_password', 'wrong password') });
    render(<App name="admin" />);

    await type('admin-password', 'not-the-password');
    await user.keyboard('{Enter}');
    expect(await screen.findByTestId('admin-error')).toHaveTextContent('Wrong password.');
    expect(backend.argsOf('admin_login')).toEqual([{ password: 'not-the-password' }]);
    expect(screen.queryByTestId('rate-input')).toBeNull();

    backend.on('admin_login', () => session());
    await user.click(screen.getByTestId('admin-submit'));
    expect(await screen.findByTestId('rate-input')).toBeInTheDocument();
    expect(screen.queryByTestId('admin-error')).toBeNull();
  });

  it('requires a reason before changing the rate', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_set_rate: ({ rate, reason }) => ({ old_rate: 1000, new_rate: Number(rate), changed_by: 'admin', reason, changed_at: '2026-11-24T09:00:00Z' }),
    });
    render(<App name="admin" />);
    expect(await screen.findByTestId('current-rate')).toHaveTextContent('1,000 credits per USD');

    await type('rate-input', '1200.5');
    await user.click(screen.getByTestId('rate-submit'));
    expect(await screen.findByText('Required')).toBeInTheDocument();
    expect(backend.argsOf('admin_set_rate')).toEqual([]);

    await type('rate-reason', '  vendor price change ');
    await user.click(screen.getByTestId('rate-submit'));
    expect(await screen.findByText('Rate changed from 1,000 to 1,200.5.')).toBeInTheDocument();
    expect(backend.argsOf('admin_set_rate')).toEqual([{ rate: '1200.5', reason: 'vendor price change' }]);
    expect(screen.getByTestId('current-rate')).toHaveTextContent('1,200.5 credits per USD');
  });

  it('rejects a rate that is not a positive decimal', async () => {
    const backend = fakeBackend({ admin_status: () => session() });
    render(<App name="admin" />);
    await type('rate-input', '1e3');
    await type('rate-reason', 'typo');
    await user.click(screen.getByTestId('rate-submit'));
    expect(await screen.findByText(/Enter a positive decimal number/)).toBeInTheDocument();
    expect(backend.argsOf('admin_set_rate')).toEqual([]);
  });

  it('grants credits to the account, prefilled', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_grant: ({ amount }) => charge('g1', -Number(amount), { kind: 'grant', usage: null }),
    });
    render(<App name="admin" />);
    await waitFor(() => expect(screen.getByTestId('grant-user')).toHaveValue('alice'));

    await type('grant-amount', '50.25');
    await type('grant-reason', 'monthly budget');
    await user.click(screen.getByTestId('grant-submit'));
    expect(await screen.findByText('Granted 50.25 credits to alice.')).toBeInTheDocument();
    expect(backend.argsOf('admin_grant')).toEqual([{ user: 'alice', amount: '50.25', reason: 'monthly budget' }]);
    expect(screen.getByTestId('grant-amount')).toHaveValue('');
  });

  it('returns to the login form when a command finds the session gone', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_set_rate: () => reject('admin_session_required', 'no session'),
    });
    render(<App name="admin" />);
    await type('rate-input', '900');
    await type('rate-reason', 'cheaper');
    backend.on('admin_status', () => ({ password_set: true, session_expires_at: null }));
    await user.click(screen.getByTestId('rate-submit'));

    expect(await screen.findByText('Admin login', { selector: '.ant-card-head-title' })).toBeInTheDocument();
    expect(screen.queryByTestId('rate-input')).toBeNull();
  });

  it('logs out', async () => {
    const backend = fakeBackend({ admin_status: () => session(), admin_logout: () => null });
    render(<App name="admin" />);
    backend.on('admin_status', () => ({ password_set: true, session_expires_at: null }));
    await user.click(await screen.findByTestId('admin-logout'));
    expect(await screen.findByTestId('admin-submit')).toHaveTextContent('Log in');
    expect(backend.argsOf('admin_logout')).toHaveLength(1);
  });
});
