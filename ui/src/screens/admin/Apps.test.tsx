import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { App } from '../../api';
import { APPS, fakeBackend, manyModels, session } from '../../test/backend';
import { expectFieldError, findOpenOption, openAdminTab, openOptions, pickOption, renderWindow, typeInto } from '../../test/render';
import { user } from '../../test/user';

const added = (name: string, share_url: string, model: string | null): App => ({
  id: 3,
  name,
  share_url,
  origin: new URL(share_url).origin,
  share_token: new URL(share_url).pathname.split('/').pop()!,
  pricing: model ? 'model' : 'dify_price',
  model_id: model ? 1 : null,
  model,
  enabled: true,
  demo: false,
  created_at: '2026-11-24T08:00:00Z',
});

describe('admin: Dify apps', () => {
  it('adds an app bound to a model or to Dify’s reported price', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_add_app: ({ name, shareUrl, model }) => added(String(name), String(shareUrl), model as string | null),
    });
    renderWindow('admin');
    await openAdminTab('apps');
    expect(await screen.findAllByTestId('app-row')).toHaveLength(2);

    await typeInto('app-name', 'HR bot');
    await typeInto('app-url', 'not a url');
    await user.click(screen.getByTestId('app-submit'));
    await expectFieldError('app-url', /Enter a full URL/);
    await user.clear(screen.getByTestId('app-url'));
    await typeInto('app-url', 'https://dify.example.com/chat/hr');
    // Dify's reported price is the default: sent as null.
    await user.click(screen.getByTestId('app-submit'));
    expect(await screen.findByText('Added HR bot.')).toBeInTheDocument();

    await typeInto('app-name', 'Sales bot');
    await typeInto('app-url', 'https://dify.example.com/chat/sales');
    await pickOption('app-model', 'gpt-4o-mini');
    await user.click(screen.getByTestId('app-submit'));
    await waitFor(() =>
      expect(backend.argsOf('admin_add_app')).toEqual([
        { name: 'HR bot', shareUrl: 'https://dify.example.com/chat/hr', model: null },
        { name: 'Sales bot', shareUrl: 'https://dify.example.com/chat/sales', model: 'gpt-4o-mini' },
      ]),
    );
  });

  it('binds an app to one of 4,000 models found by typing part of its name', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      models: () => manyModels(4000),
      admin_add_app: ({ name, shareUrl, model }) => added(String(name), String(shareUrl), model as string | null),
    });
    renderWindow('admin');
    await openAdminTab('apps');
    await typeInto('app-name', 'Research bot');
    await typeInto('app-url', 'https://dify.example.com/chat/research');

    const picker = within(screen.getByTestId('app-model')).getByRole('combobox');
    await user.click(picker);
    await user.type(picker, 'MODEL-'); // every model's name has it, in lower case
    await waitFor(() => expect(openOptions().length).toBeGreaterThan(1));
    // antd's virtual list: a screenful of the 4,000 matches is rendered, not all of them.
    expect(openOptions().length).toBeLessThan(50);
    await user.type(picker, '3217');
    await user.click(await findOpenOption('model-3217'));
    await user.click(screen.getByTestId('app-submit'));
    await waitFor(() =>
      expect(backend.argsOf('admin_add_app')).toEqual([{ name: 'Research bot', shareUrl: 'https://dify.example.com/chat/research', model: 'model-3217' }]),
    );
  });

  it('switches an app and tests its connection', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_set_app_enabled: ({ id, enabled }) => ({ ...APPS[0], id, enabled }),
      admin_test_app: ({ id }) => (id === 2 ? { ok: true, status: 200, message: 'HTTP 200 OK in 35 ms' } : { ok: false, status: null, message: 'connection refused' }),
    });
    renderWindow('admin');
    await openAdminTab('apps');
    const table = await screen.findByTestId('apps-table');
    expect(table).toHaveTextContent('http://dify.local/chat/abc');

    await user.click(screen.getByTestId('app-enabled-1'));
    expect(backend.argsOf('admin_set_app_enabled')).toEqual([{ id: 1, enabled: true }]);

    await user.click(screen.getByTestId('app-test-2'));
    expect(await screen.findByTestId('app-test-result-2')).toHaveTextContent('OK · HTTP 200 OK in 35 ms');
    await user.click(screen.getByTestId('app-test-1'));
    expect(await screen.findByTestId('app-test-result-1')).toHaveTextContent('Failed · connection refused');
    expect(backend.argsOf('admin_test_app')).toEqual([{ id: 2 }, { id: 1 }]);
  });

  it('edits an app: renames it, moves it and binds it to Dify’s reported price', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_update_app: ({ id, name, shareUrl, model }) => ({ ...added(String(name), String(shareUrl), model as string | null), id: Number(id) }),
    });
    renderWindow('admin');
    await openAdminTab('apps');
    await user.click(await screen.findByRole('button', { name: 'Edit Support bot' }));
    // The form opens with the app as it is.
    expect(await screen.findByTestId('app-edit-name')).toHaveValue('Support bot');
    expect(screen.getByTestId('app-edit-url')).toHaveValue('http://dify.local/chat/abc');

    await user.clear(screen.getByTestId('app-edit-name'));
    await typeInto('app-edit-name', 'Helpdesk');
    await user.clear(screen.getByTestId('app-edit-url'));
    await typeInto('app-edit-url', 'https://dify.example.com/chatbot/help');
    await pickOption('app-edit-model', "Dify's reported price");
    await user.click(screen.getByTestId('app-edit-save'));
    await waitFor(() =>
      expect(backend.argsOf('admin_update_app')).toEqual([
        { id: 2, name: 'Helpdesk', shareUrl: 'https://dify.example.com/chatbot/help', model: null },
      ]),
    );
    await waitFor(() => expect(screen.queryByTestId('app-edit-name')).toBeNull());
  });
});
