import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { fakeBackend, POLICY, session } from '../../test/backend';
import { expectFieldError, openAdminTab, pickOption, renderWindow, typeInto } from '../../test/render';
import { user } from '../../test/user';

describe('admin: guards', () => {
  it('starts from the stored policy and saves credit fields as decimal strings', async () => {
    const backend = fakeBackend({ admin_status: () => session(), admin_set_policy: () => POLICY });
    renderWindow('admin');
    await openAdminTab('guards');
    expect(await screen.findByTestId('guards-low-balance')).toHaveValue('100.5');
    expect(screen.getByTestId('guards-integration')).toBeChecked();

    await user.clear(screen.getByTestId('guards-event-cap'));
    await typeInto('guards-event-cap', '250.75');
    await user.clear(screen.getByTestId('guards-daily-budget'));
    await typeInto('guards-daily-budget', '-1');
    await user.click(screen.getByTestId('guards-save'));
    await expectFieldError('guards-daily-budget', /at least 0 with at most 6 decimals/);
    expect(backend.argsOf('admin_set_policy')).toEqual([]);

    await user.clear(screen.getByTestId('guards-daily-budget'));
    await typeInto('guards-daily-budget', '300');
    await user.clear(screen.getByTestId('guards-flood'));
    await typeInto('guards-flood', '10');
    await user.click(screen.getByTestId('guards-integration'));
    await pickOption('guards-when-unchecked', 'Block it');
    await user.click(screen.getByTestId('guards-save'));

    await waitFor(() =>
      expect(backend.argsOf('admin_set_policy')).toEqual([
        {
          policy: {
            integration_enabled: false,
            min_balance: '1',
            event_cap: '250.75',
            flood_max_per_minute: 10,
            low_balance: '100.5',
            max_tokens_per_event: 200_000,
            daily_budget: '300',
            monthly_budget: '0',
            when_unchecked: 'block',
            side_calls: 'estimate',
            side_call_fixed: '0',
          },
        },
      ]),
    );
    expect(await screen.findByText('Guards saved.')).toBeInTheDocument();
  });

  it('prices side calls as chosen, asking for the fixed charge only then, and saves it as typed', async () => {
    const backend = fakeBackend({ admin_status: () => session(), admin_set_policy: () => POLICY });
    renderWindow('admin');
    await openAdminTab('guards');
    const fixedItem = () => screen.getByTestId('guards-side-call-fixed').closest('.ant-form-item');
    expect(await screen.findByTestId('guards-side-calls')).toHaveTextContent("Estimate tokens at the app's model");
    expect(fixedItem()).toHaveClass('ant-form-item-hidden');

    await pickOption('guards-side-calls', 'Fixed charge');
    await waitFor(() => expect(fixedItem()).not.toHaveClass('ant-form-item-hidden'));
    await user.clear(screen.getByTestId('guards-side-call-fixed'));
    await typeInto('guards-side-call-fixed', '0.0000001');
    await user.click(screen.getByTestId('guards-save'));
    await expectFieldError('guards-side-call-fixed', /at most 6 decimals/);
    expect(backend.argsOf('admin_set_policy')).toEqual([]);

    // More digits than a float holds: a number on the way would come out 9007199254740.993.
    await user.clear(screen.getByTestId('guards-side-call-fixed'));
    await typeInto('guards-side-call-fixed', '9007199254740.993001');
    await user.click(screen.getByTestId('guards-save'));
    await waitFor(() =>
      expect(backend.argsOf('admin_set_policy')).toEqual([{ policy: { ...POLICY, side_calls: 'fixed', side_call_fixed: '9007199254740.993001' } }]),
    );
  });

  it('saves credit amounts back exactly as Rust sent them, beyond what a float holds', async () => {
    const stored = { ...POLICY, event_cap: '12345678901234.567891', low_balance: '0.000001' };
    const backend = fakeBackend({ admin_status: () => session(), policy: () => stored, admin_set_policy: () => stored });
    renderWindow('admin');
    await openAdminTab('guards');
    expect(await screen.findByTestId('guards-event-cap')).toHaveValue('12345678901234.567891');
    await user.click(screen.getByTestId('guards-save'));
    await waitFor(() => expect(backend.argsOf('admin_set_policy')).toEqual([{ policy: stored }]));
  });
});
