import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import i18n from '../../i18n';
import { changes, orgServer, supportBot, openOrgConsole } from '../../test/orgServer';
import { pickOption, typeInto } from '../../test/render';
import { user } from '../../test/user';

const rowOf = (id: string) => screen.getAllByTestId('app-row').find((r) => r.getAttribute('data-app-id') === id)!;

describe('org console: Dify apps on the server', () => {
  it('lists the apps with their share URL, pricing and switch, and adds one priced by Dify or by a model', async () => {
    const { backend } = orgServer();
    await openOrgConsole('apps');
    const [row] = await screen.findAllByTestId('app-row');
    expect(row).toHaveTextContent('Support bot');
    expect(row).toHaveTextContent('https://dify.example.com/chat/support');
    expect(row).toHaveTextContent('gpt-4o-mini');
    expect(within(row).getByRole('switch')).toBeChecked();

    // Dify's reported price is the default: no model goes with it.
    await typeInto('app-name', ' HR bot ');
    await typeInto('app-url', 'https://dify.example.com/chatbot/hr-1');
    await user.click(screen.getByTestId('app-submit'));
    expect(await screen.findByText('Added HR bot.')).toBeInTheDocument();
    await waitFor(() => expect(screen.getAllByTestId('app-row')).toHaveLength(2));
    expect(rowOf('0193-app-2')).toHaveTextContent("Dify's reported price");
    expect(changes(backend)).toEqual([
      { op: 'add_app', app: { name: 'HR bot', share_url: 'https://dify.example.com/chatbot/hr-1', pricing: 'dify_price', model: null } },
    ]);
  });

  it('adds an app bound to a model of the server', async () => {
    const { backend, state } = orgServer();
    await openOrgConsole('apps');
    await typeInto('app-name', 'Sales bot');
    await typeInto('app-url', 'https://dify.example.com/workflow/sales');
    await pickOption('app-model', 'gpt-4o-mini');
    await user.click(screen.getByTestId('app-submit'));
    await waitFor(() => expect(screen.getAllByTestId('app-row')).toHaveLength(2));
    expect(changes(backend)).toEqual([
      { op: 'add_app', app: { name: 'Sales bot', share_url: 'https://dify.example.com/workflow/sales', pricing: 'model', model: 'gpt-4o-mini' } },
    ]);
    expect(state.apps.map((a) => a.name)).toEqual(['Support bot', 'Sales bot']);
  });

  it('says in words why the server refused a share URL', async () => {
    const { backend } = orgServer();
    await openOrgConsole('apps');
    await typeInto('app-name', 'Wiki');
    // A URL, but no Dify share page: the server says so.
    await typeInto('app-url', 'https://dify.example.com/apps/wiki');
    await user.click(screen.getByTestId('app-submit'));
    expect(await screen.findByText('Not a Dify share URL: "https://dify.example.com/apps/wiki" is not a Dify share URL')).toBeInTheDocument();
    expect(changes(backend)).toEqual([
      { op: 'add_app', app: { name: 'Wiki', share_url: 'https://dify.example.com/apps/wiki', pricing: 'dify_price', model: null } },
    ]);
    expect(screen.getAllByTestId('app-row')).toHaveLength(1);
  });

  it('switches an app off and edits it, changing only what the form sets', async () => {
    const { backend, state } = orgServer();
    await openOrgConsole('apps');
    await user.click(await screen.findByTestId(`app-enabled-${supportBot.id}`));
    await waitFor(() => expect(within(rowOf(supportBot.id)).getByRole('switch')).not.toBeChecked());
    expect(state.apps[0].enabled).toBe(false);

    await user.click(screen.getByRole('button', { name: 'Edit Support bot' }));
    expect(await screen.findByTestId('app-edit-name')).toHaveValue('Support bot');
    expect(screen.getByTestId('app-edit-url')).toHaveValue('https://dify.example.com/chat/support');
    await user.clear(screen.getByTestId('app-edit-name'));
    await typeInto('app-edit-name', 'Helpdesk');
    await pickOption('app-edit-model', "Dify's reported price");
    await user.click(screen.getByTestId('app-edit-save'));
    await waitFor(() => expect(rowOf(supportBot.id)).toHaveTextContent('Helpdesk'));
    expect(rowOf(supportBot.id)).toHaveTextContent("Dify's reported price");

    const id = supportBot.id;
    expect(changes(backend)).toEqual([
      { op: 'update_app', id, change: { name: null, share_url: null, pricing: null, model: null, enabled: false } },
      { op: 'update_app', id, change: { name: 'Helpdesk', share_url: 'https://dify.example.com/chat/support', pricing: 'dify_price', model: null, enabled: null } },
    ]);
    // Still off: the edit left the switch alone.
    expect(state.apps[0]).toMatchObject({ name: 'Helpdesk', pricing: 'dify_price', model: null, enabled: false });
  });

  it('speaks Chinese', async () => {
    orgServer();
    await act(() => i18n.changeLanguage('zh'));
    await openOrgConsole('apps');
    expect(screen.getByTestId('org-tab-apps')).toHaveTextContent('Dify 应用');
    await screen.findAllByTestId('app-row');
    expect(screen.getByText('添加 Dify 应用')).toBeInTheDocument();
    await typeInto('app-name', '知识库');
    await typeInto('app-url', 'https://dify.example.com/apps/wiki');
    await user.click(screen.getByTestId('app-submit'));
    expect(await screen.findByText(/^不是有效的 Dify 分享链接：/)).toBeInTheDocument();
    await user.clear(screen.getByTestId('app-url'));
    await typeInto('app-url', 'https://dify.example.com/chat/wiki');
    await user.click(screen.getByTestId('app-submit'));
    expect(await screen.findByText('已添加 知识库。')).toBeInTheDocument();
    await waitFor(() => expect(screen.getAllByTestId('app-row')[1]).toHaveTextContent('Dify 报价'));
  });
});
