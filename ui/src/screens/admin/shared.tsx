// Pieces every admin tab shares: the session-aware action hook, validation rules, reason fields, a form footer,
// a form in a modal, and the models' search, pages and free tag.
import { Alert, App as AntApp, Button, Form, Input, Modal, Space, Tag, Tooltip, type TablePaginationConfig } from 'antd';
import type { Rule } from 'antd/es/form';
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { ErrorAlert } from '../../components/ErrorAlert';
import { isZero, parseDecimal } from '../../format';
import { useAction } from '../../hooks';

/** Called with every failed admin command, so a lost session sends the window back to the login form. */
export const CommandErrorContext = createContext<(error: unknown) => void>(() => undefined);

export function useAdminAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  return useAction(fn, useContext(CommandErrorContext));
}

/**
 * An admin action on one row of a table: each row shows its own spinner, and several rows may run at once.
 * `key` names the row; the error is the last one of any row.
 */
export function useRowAction<K, A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  const action = useAdminAction(fn);
  const [running, setRunning] = useState<ReadonlySet<K>>(new Set());
  const mark = useCallback((key: K, on: boolean) => {
    setRunning((keys) => {
      const next = new Set(keys);
      if (on) next.add(key);
      else next.delete(key);
      return next;
    });
  }, []);
  const { run: runAction } = action;
  const run = useCallback(
    async (key: K, ...args: A): Promise<R | undefined> => {
      mark(key, true);
      try {
        return await runAction(...args);
      } finally {
        mark(key, false);
      }
    },
    [mark, runAction],
  );
  return { run, isBusy: (key: K) => running.has(key), error: action.error };
}

/** Decimal strings that Rust parses exactly: no exponent, no grouping. */
export const DECIMAL = /^\d+(\.\d+)?$/;
/** Credits have at most 6 decimals (micro-credits); adjustments may be negative. */
export const CREDITS = /^\d+(\.\d{1,6})?$/;
export const SIGNED_CREDITS = /^-?\d+(\.\d{1,6})?$/;

/**
 * Checks a decimal string's form, then its value, exactly: `accept` gets it as integer units (`"0.5"` → `5n`),
 * which keep its sign and whether it is zero. An empty field is left to the `required` rule.
 */
export function decimalRule(pattern: RegExp, message: string, accept: (units: bigint) => boolean = (v) => v > 0n): Rule {
  return {
    validator: (_, value?: string) => {
      if (!value) return Promise.resolve();
      const text = value.trim();
      const parsed = pattern.test(text) ? parseDecimal(text) : null;
      return parsed && accept(parsed.units) ? Promise.resolve() : Promise.reject(new Error(message));
    },
  };
}

export function useRequired(): Rule {
  const { t } = useTranslation();
  return { required: true, whitespace: true, message: t('admin.required') };
}

/** A required reason, kept with the change in its history. */
export function ReasonItem({ testId, name = 'reason', label }: { testId: string; name?: string; label?: string }) {
  const { t } = useTranslation();
  return (
    <Form.Item name={name} label={label ?? t('admin.reason')} extra={t('admin.reasonHint')} rules={[useRequired()]}>
      <Input maxLength={500} data-testid={testId} />
    </Form.Item>
  );
}

interface FooterProps {
  busy: boolean;
  error: unknown;
  done?: string | null;
  label: string;
  testId: string;
}

export function FormFooter({ busy, error, done, label, testId }: FooterProps) {
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <ErrorAlert error={error} />
      {done && <Alert type="success" showIcon message={done} />}
      <Button type="primary" htmlType="submit" loading={busy} data-testid={testId}>
        {label}
      </Button>
    </Space>
  );
}

interface FormModalProps<V> {
  title: ReactNode;
  /** Null: closed. Otherwise the values the form opens with. */
  initialValues: Partial<V> | null;
  onClose: () => void;
  /** The command; resolving (to anything but undefined) closes the modal and says `doneMessage`. */
  submit: (values: V) => Promise<unknown>;
  doneMessage: string;
  submitLabel: string;
  submitTestId: string;
  children: ReactNode;
}

/** A short admin form in a modal: edit a price, reverse an entry, decide a held event. */
export function FormModal<V extends object>({ title, initialValues, onClose, ...body }: FormModalProps<V>) {
  return (
    <Modal open={initialValues !== null} title={title} onCancel={onClose} footer={null} destroyOnHidden>
      {initialValues && <FormModalBody<V> initialValues={initialValues} onClose={onClose} {...body} />}
    </Modal>
  );
}

// A body per opening, so a failed attempt's error does not greet the next one.
function FormModalBody<V extends object>({ initialValues, onClose, submit, doneMessage, submitLabel, submitTestId, children }: Omit<FormModalProps<V>, 'title'> & { initialValues: Partial<V> }) {
  const { message } = AntApp.useApp();
  const action = useAdminAction(submit);
  const finish = async (values: V) => {
    if ((await action.run(values)) === undefined) return;
    void message.success(doneMessage);
    onClose();
  };
  return (
    <Form<V> layout="vertical" requiredMark={false} initialValues={initialValues} onFinish={finish}>
      {children}
      <FormFooter busy={action.busy} error={action.error} label={submitLabel} testId={submitTestId} />
    </Form>
  );
}

/** A new password (at least 8 characters, as Rust requires) and its repetition, which must match `field`. */
export function passwordRules(t: TFunction, field: string): { required: Rule; password: Rule[]; confirm: Rule[] } {
  const required: Rule = { required: true, message: t('admin.required') };
  return {
    required,
    password: [required, { min: 8, message: t('admin.tooShort') }],
    confirm: [
      required,
      ({ getFieldValue }) => ({
        validator: (_, value) =>
          !value || value === getFieldValue(field) ? Promise.resolve() : Promise.reject(new Error(t('admin.mismatch'))),
      }),
    ],
  };
}

/** What a model search looks at: the name and the aliases. */
interface Searchable {
  name: string;
  aliases: string[];
}

/** The models whose name or an alias contains `search`, ignoring case; memoised, as there may be thousands. */
export function useModelSearch<M extends Searchable>(models: M[] | null | undefined, search: string): M[] | undefined {
  return useMemo(() => {
    const needle = search.trim().toLowerCase();
    if (!models || !needle) return models ?? undefined;
    return models.filter((m) => m.name.toLowerCase().includes(needle) || m.aliases.some((a) => a.toLowerCase().includes(needle)));
  }, [models, search]);
}

export function ModelSearch({ onSearch }: { onSearch: (text: string) => void }) {
  const { t } = useTranslation();
  return (
    <Input.Search
      allowClear
      size="small"
      placeholder={t('admin.models.search')}
      aria-label={t('admin.models.search')}
      onChange={(e) => onSearch(e.target.value)}
      data-testid="model-search"
    />
  );
}

/** The names of the models a charge may be priced by (an app's binding, a simulated charge): the active ones. */
export function useActiveModelNames(models: { name: string; active: boolean }[] | null): string[] {
  return useMemo(() => (models ?? []).filter((m) => m.active).map((m) => m.name), [models]);
}

/** A models table's pages: a price map has thousands of models, and only one page of rows is rendered. */
export const MODEL_PAGES: TablePaginationConfig = { defaultPageSize: 50, pageSizeOptions: [20, 50, 100, 200], showSizeChanger: true, hideOnSinglePage: true };

/** Both prices zero: the model costs nothing, which is said rather than left to a silent 0. */
export const isFree = (input: string, output: string) => isZero(input) && isZero(output);

export function FreeTag() {
  const { t } = useTranslation();
  return (
    <Tooltip title={t('admin.models.freeHint')}>
      <Tag color="green" data-testid="free-tag">
        {t('admin.models.free')}
      </Tag>
    </Tooltip>
  );
}
