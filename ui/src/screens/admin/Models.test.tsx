import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Channel } from '@tauri-apps/api/core';
import type { ImportPreview, ImportProgress, ImportReport } from '../../api';
import { fakeBackend, manyModels, model, MODELS, sendOnChannel, session } from '../../test/backend';
import { expectFieldError, renderWindow, typeInto } from '../../test/render';
import { user } from '../../test/user';

const row = (name: string) => screen.getAllByTestId('model-row').find((r) => r.getAttribute('data-model') === name)!;
const shownModels = () => screen.getAllByTestId('model-row').map((r) => r.getAttribute('data-model'));

describe('admin: models', () => {
  it('lists models with prices as sent, aliases and review flags', async () => {
    fakeBackend({ admin_status: () => session() });
    renderWindow('admin');
    await screen.findAllByTestId('model-row');
    expect(screen.getAllByTestId('model-row').map((r) => r.getAttribute('data-model'))).toEqual(['gpt-4o', 'gpt-4o-mini', 'legacy-1']);
    expect(row('gpt-4o-mini')).toHaveTextContent('0.00015');
    expect(row('gpt-4o-mini')).toHaveTextContent('review');
    expect(row('gpt-4o')).toHaveTextContent('gpt-4o-2024-08-06');
    expect(screen.getByTestId('model-active-legacy-1')).not.toBeChecked();
    expect(screen.getByTestId('model-active-gpt-4o')).toBeChecked();
    expect(screen.queryByTestId('free-tag')).toBeNull();
  });

  it('says Free of a model priced at zero for input and output, however the zero is written', async () => {
    fakeBackend({
      admin_status: () => session(),
      models: () => [...MODELS, model('local-llama', '0', '0.000'), model('free-input', '0', '0.001')],
    });
    renderWindow('admin');
    await waitFor(() => expect(row('local-llama')).toBeDefined());
    expect(within(row('local-llama')).getByTestId('free-tag')).toHaveTextContent('Free');
    expect(screen.getAllByTestId('free-tag')).toHaveLength(1);
  });

  it('shows 4,000 models a page at a time, and finds them by part of a name or an alias, in any case', async () => {
    fakeBackend({ admin_status: () => session(), models: () => manyModels(4000) });
    renderWindow('admin');
    await waitFor(() => expect(shownModels()).toHaveLength(50));
    expect(shownModels()[0]).toBe('model-0001');
    expect(screen.getByTitle('80')).toBeInTheDocument(); // the last of 80 pages
    expect(screen.getByText('50 / page')).toBeInTheDocument();

    await typeInto('model-search', 'EL-321');
    await waitFor(() => expect(shownModels()).toEqual(Array.from({ length: 10 }, (_, i) => `model-321${i}`)));
    await user.clear(screen.getByTestId('model-search'));
    await typeInto('model-search', 'Alias-0042');
    await waitFor(() => expect(shownModels()).toEqual(['model-0042']));
  });

  it('edits a price only with a reason, sending decimal strings', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_set_model: ({ name, input, output }) => model(String(name), String(input), String(output)),
    });
    renderWindow('admin');
    await user.click(await screen.findByTestId('model-edit-gpt-4o-mini'));
    // The form starts from the exact stored prices.
    expect(await screen.findByTestId('model-input-price')).toHaveValue('0.00015');
    expect(screen.getByTestId('model-output-price')).toHaveValue('0.0006');

    await user.clear(screen.getByTestId('model-input-price'));
    await typeInto('model-input-price', '0.0002');
    await user.click(screen.getByTestId('model-save'));
    await expectFieldError('model-reason', 'Required');
    expect(backend.argsOf('admin_set_model')).toEqual([]);

    await typeInto('model-reason', ' vendor list price ');
    backend.on('models', () => MODELS.map((m) => (m.name === 'gpt-4o-mini' ? { ...m, input_usd_per_1k: '0.0002', needs_review: false } : m)));
    await user.click(screen.getByTestId('model-save'));
    await waitFor(() => expect(screen.queryByTestId('model-save')).toBeNull());
    expect(backend.argsOf('admin_set_model')).toEqual([{ name: 'gpt-4o-mini', input: '0.0002', output: '0.0006', reason: 'vendor list price' }]);
    // Rust announced ledger-changed: the table shows the stored price.
    await waitFor(() => expect(row('gpt-4o-mini')).toHaveTextContent('0.0002'));
    expect(row('gpt-4o-mini')).not.toHaveTextContent('review');
  });

  it('shows and saves back a stored price digit for digit, however long', async () => {
    // More significant digits than a double holds: any trip through a JS number changes them.
    const input = '0.000123456789';
    const output = '1234.5678901234567891';
    const backend = fakeBackend({
      admin_status: () => session(),
      models: () => [model('long-1', input, output)],
      admin_set_model: ({ name }) => model(String(name), input, output),
    });
    renderWindow('admin');
    expect(await screen.findByTestId('model-row')).toHaveTextContent(`${input}1,234.5678901234567891`);

    await user.click(screen.getByTestId('model-edit-long-1'));
    expect(await screen.findByTestId('model-input-price')).toHaveValue(input);
    expect(screen.getByTestId('model-output-price')).toHaveValue(output);
    await typeInto('model-reason', 'confirmed');
    await user.click(screen.getByTestId('model-save'));
    await waitFor(() => expect(backend.argsOf('admin_set_model')).toEqual([{ name: 'long-1', input, output, reason: 'confirmed' }]));
  });

  it('refuses a price that is not a plain decimal', async () => {
    const backend = fakeBackend({ admin_status: () => session() });
    renderWindow('admin');
    await user.click(await screen.findByTestId('model-edit-gpt-4o'));
    await typeInto('model-reason', 'typo');
    for (const typed of ['1e-3', '0,5', '-0.1', '0.1.2']) {
      await user.clear(await screen.findByTestId('model-input-price'));
      await typeInto('model-input-price', typed);
      await user.click(screen.getByTestId('model-save'));
      await expectFieldError('model-input-price', /Enter a decimal number of USD per 1K tokens/);
    }
    expect(backend.argsOf('admin_set_model')).toEqual([]);
  });

  it('adds a model, switches one off, edits aliases as tags, and shows the price history', async () => {
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_set_model: ({ name, input, output }) => model(String(name), String(input), String(output)),
      admin_set_model_active: ({ name, active }) => ({ ...MODELS[0], name, active }),
      admin_set_model_aliases: ({ aliases }) => ({ ...MODELS[0], aliases }),
      model_history: () => [
        { id: 2, model: 'gpt-4o', old: { input_per_1k: '0.005', output_per_1k: '0.015' }, new: { input_per_1k: '0.0025', output_per_1k: '0.01' }, changed_by: 'admin', reason: 'price cut', changed_at: '2026-11-10T00:00:00Z' },
        { id: 1, model: 'gpt-4o', old: null, new: { input_per_1k: '0.005', output_per_1k: '0.015' }, changed_by: 'seed', reason: 'list price', changed_at: '2026-11-01T00:00:00Z' },
      ],
    });
    renderWindow('admin');

    await user.click(await screen.findByTestId('model-add'));
    await typeInto('model-name', 'qwen-max');
    await typeInto('model-input-price', '0.0016');
    await typeInto('model-output-price', '0.0064');
    await typeInto('model-reason', 'new vendor');
    await user.click(screen.getByTestId('model-save'));
    await waitFor(() => expect(backend.argsOf('admin_set_model')).toEqual([{ name: 'qwen-max', input: '0.0016', output: '0.0064', reason: 'new vendor' }]));

    await user.click(screen.getByTestId('model-active-gpt-4o'));
    expect(backend.argsOf('admin_set_model_active')).toEqual([{ name: 'gpt-4o', active: false }]);

    await user.click(screen.getByTestId('model-aliases-gpt-4o'));
    const aliases = within(await screen.findByTestId('model-aliases-input')).getByRole('combobox');
    await user.type(aliases, '4o-latest{Enter}');
    await user.click(screen.getByTestId('model-aliases-save'));
    await waitFor(() => expect(backend.argsOf('admin_set_model_aliases')).toEqual([{ name: 'gpt-4o', aliases: ['gpt-4o-2024-08-06', '4o-latest'] }]));

    await user.click(screen.getByTestId('model-history-gpt-4o'));
    const rows = await screen.findAllByTestId('price-history-row');
    expect(backend.argsOf('model_history')).toEqual([{ name: 'gpt-4o' }]);
    expect(rows[0]).toHaveTextContent('0.005 → 0.0025');
    expect(rows[0]).toHaveTextContent('price cut');
    expect(rows[1]).toHaveTextContent('— → 0.015');
  });

  it('imports a price file: preview with a bad line, a reason, then the report', async () => {
    const preview: ImportPreview = {
      rows: [
        { line: 2, name: 'gpt-4o', input_usd_per_1k: '0.0025', output_usd_per_1k: '0.01', aliases: [], change: 'unchanged', free: false },
        { line: 3, name: 'qwen-max', input_usd_per_1k: '0.0016', output_usd_per_1k: '0.0064', aliases: ['qwen'], change: 'create', free: false },
      ],
      skipped: [],
      errors: [{ line: 4, message: 'input price "abc" is not a decimal' }],
    };
    const report: ImportReport = { created: 1, updated: 0, unchanged: 1, free: [], skipped: [], errors: preview.errors };
    let finish = (_: ImportReport) => {};
    let progressChannel: Channel<ImportProgress> | null = null;
    const backend = fakeBackend({
      admin_status: () => session(),
      admin_preview_import: () => preview,
      admin_import_models: ({ onProgress }) => {
        progressChannel = onProgress as Channel<ImportProgress>;
        return new Promise<ImportReport>((resolve) => (finish = resolve));
      },
    });
    const sendProgress = (index: number, message: ImportProgress) => act(() => sendOnChannel(progressChannel!, index, message));
    renderWindow('admin');
    await user.click(await screen.findByTestId('model-import'));

    const text = 'name,input,output,aliases\ngpt-4o,0.0025,0.01,\nqwen-max,0.0016,0.0064,qwen\nbroken,abc,1,\n';
    await user.upload(await screen.findByTestId('import-file'), new File([text], 'prices.csv', { type: 'text/csv' }));

    const rows = await screen.findAllByTestId('import-preview-row');
    expect(backend.argsOf('admin_preview_import')).toEqual([{ text }]);
    expect(rows.map((r) => [r.getAttribute('data-line'), r.getAttribute('data-change')])).toEqual([['2', 'unchanged'], ['3', 'create']]);
    const error = screen.getByTestId('import-error');
    expect(error).toHaveAttribute('data-line', '4');
    expect(error).toHaveTextContent('Line 4: input price "abc" is not a decimal');
    expect(screen.getByTestId('import-summary')).toHaveTextContent('prices.csv: 1 to create, 0 to update, 1 unchanged, 1 with errors');
    expect(backend.argsOf('admin_import_models')).toEqual([]); // the preview writes nothing

    await user.click(screen.getByTestId('import-submit'));
    await expectFieldError('import-reason', 'Required');
    await typeInto('import-reason', 'Q4 price list');
    await user.click(screen.getByTestId('import-submit'));
    const bar = await screen.findByTestId('import-progress');
    expect(bar).toHaveTextContent(/^$/);
    sendProgress(0, { done: 1, total: 3 });
    await waitFor(() => expect(bar).toHaveTextContent('1 / 3 rows'));
    expect(bar).toHaveAttribute('aria-valuenow', '33');
    sendProgress(1, { done: 3, total: 3 });
    await waitFor(() => expect(bar).toHaveTextContent('3 / 3 rows'));
    act(() => finish(report));

    const done = await screen.findByTestId('import-report');
    expect(screen.queryByTestId('import-progress')).toBeNull();
    expect(backend.argsOf('admin_import_models')).toEqual([{ text, reason: 'Q4 price list', onProgress: progressChannel }]);
    expect(done).toHaveTextContent('Create1Update0Unchanged1');
    expect(within(done).getByTestId('import-error')).toHaveAttribute('data-line', '4');
    expect(screen.queryByTestId('import-preview-row')).toBeNull();
    // Nothing was skipped or free: neither is mentioned.
    expect(screen.queryByTestId('import-skipped')).toBeNull();
    expect(screen.queryByTestId('import-free')).toBeNull();
  });

  it("imports a LiteLLM map: counts and lists the entries it skips, and says which models come in free", async () => {
    const skipped = [
      { line: 2, name: 'sample_spec', reason: "LiteLLM's description of its own fields" },
      { line: 40, name: 'dall-e-3', reason: 'priced per image' },
      { line: 77, name: 'whisper-1', reason: 'priced per second of audio' },
    ];
    const preview: ImportPreview = {
      rows: [
        { line: 20, name: 'gpt-4o', input_usd_per_1k: '0.0025', output_usd_per_1k: '0.01', aliases: [], change: 'unchanged', free: false },
        { line: 60, name: 'ollama/llama3', input_usd_per_1k: '0', output_usd_per_1k: '0', aliases: [], change: 'create', free: true },
      ],
      skipped,
      errors: [],
    };
    const report: ImportReport = { created: 1, updated: 0, unchanged: 1, free: ['ollama/llama3'], skipped, errors: [] };
    fakeBackend({ admin_status: () => session(), admin_preview_import: () => preview, admin_import_models: () => report });
    renderWindow('admin');
    await user.click(await screen.findByTestId('model-import'));
    await user.upload(await screen.findByTestId('import-file'), new File(['{}'], 'model_prices.json', { type: 'application/json' }));

    const rows = await screen.findAllByTestId('import-preview-row');
    expect(rows.map((r) => within(r).queryByTestId('free-tag')?.textContent ?? null)).toEqual([null, 'Free']);
    const list = screen.getByTestId('import-skipped');
    expect(list).toHaveTextContent('Skipped: 3 entries not priced per token');
    expect(screen.queryByTestId('import-skipped-row')).toBeNull(); // folded until asked for
    await user.click(within(list).getByRole('button', { name: /Skipped/ }));
    const lines = await screen.findAllByTestId('import-skipped-row');
    expect(lines.map((l) => l.getAttribute('data-line'))).toEqual(['2', '40', '77']);
    expect(lines[1]).toHaveTextContent('40dall-e-3priced per image');

    await typeInto('import-reason', 'LiteLLM prices');
    await user.click(screen.getByTestId('import-submit'));
    const done = await screen.findByTestId('import-report');
    expect(within(done).getByTestId('import-free')).toHaveTextContent('Imported as free (priced at 0): ollama/llama3');
    expect(within(done).getByTestId('import-skipped')).toHaveTextContent('Skipped: 3 entries not priced per token');
  });
});
